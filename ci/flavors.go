package ci

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// CheckFlavors says which matrix `flavor` value of the workflow has no
// templatesDir/<flavor>/flavor.yaml, so that a renamed flavor turns CI red
// here and not at night.
func (w Workflow) CheckFlavors(templatesDir string) error {
	var errs []error
	for _, id := range w.jobIDs() {
		values, where := w.matrixValues(w.Jobs[id], "flavor")
		for i, f := range values {
			if _, err := os.Stat(filepath.Join(templatesDir, f, "flavor.yaml")); err != nil {
				errs = append(errs, fmt.Errorf("%s: job %s: matrix flavor %q has no %s; the flavors are: %s",
					where[i], id, f, filepath.Join(templatesDir, f, "flavor.yaml"), flavorsIn(templatesDir)))
			}
		}
	}
	return errors.Join(errs...)
}

func flavorsIn(templatesDir string) string {
	matches, _ := filepath.Glob(filepath.Join(templatesDir, "*", "flavor.yaml"))
	var names []string
	for _, m := range matches {
		names = append(names, filepath.Base(filepath.Dir(m)))
	}
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}
