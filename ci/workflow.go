// Package ci checks the CI recipes in .github/workflows (the nightly KVM
// run and the pull requests', README "CI"): actionlint, that what they
// name exists in the repository, that guests boot on the KVM runners only
// and that the workflows pin each action alike. `.ci/run` is the
// harness's own CI entry and is not checked here.
package ci

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/rhysd/actionlint"
)

// Workflow is one parsed workflow file.
type Workflow struct {
	Path string
	*actionlint.Workflow
}

// Load reads and parses a workflow file.
func Load(path string) (Workflow, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Workflow{}, err
	}
	return Parse(path, b)
}

// Parse parses a workflow's YAML; path names it in errors.
func Parse(path string, content []byte) (Workflow, error) {
	wf, errs := actionlint.Parse(content)
	if len(errs) > 0 || wf == nil {
		msgs := []error{errors.New(path + ": not a valid workflow")}
		for _, e := range errs {
			e.Filepath = path
			msgs = append(msgs, e)
		}
		return Workflow{}, errors.Join(msgs...)
	}
	return Workflow{Path: path, Workflow: wf}, nil
}

// at is "file:line" of pos.
func (w Workflow) at(pos *actionlint.Pos) string {
	if pos == nil {
		return w.Path
	}
	return fmt.Sprintf("%s:%d", w.Path, pos.Line)
}

// jobIDs are the workflow's job ids in order, for stable messages.
func (w Workflow) jobIDs() []string {
	ids := make([]string, 0, len(w.Jobs))
	for id := range w.Jobs {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// matrixValues are the string values a job's matrix gives key (its row and
// include entries), each with where it is written; nil when the matrix has
// no such key or is computed by an expression.
func (w Workflow) matrixValues(job *actionlint.Job, key string) (values []string, where []string) {
	if job.Strategy == nil || job.Strategy.Matrix == nil {
		return nil, nil
	}
	m := job.Strategy.Matrix
	if row, ok := m.Rows[strings.ToLower(key)]; ok {
		for _, v := range row.Values {
			if s, ok := v.(*actionlint.RawYAMLString); ok {
				values, where = append(values, s.Value), append(where, w.at(row.Name.Pos))
			}
		}
	}
	if m.Include != nil {
		for _, c := range m.Include.Combinations {
			if a, ok := c.Assigns[strings.ToLower(key)]; ok {
				if s, ok := a.Value.(*actionlint.RawYAMLString); ok {
					values, where = append(values, s.Value), append(where, w.at(a.Key.Pos))
				}
			}
		}
	}
	return values, where
}
