package ci

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"

	"github.com/rhysd/actionlint"
)

// makeRule is a rule line of a Makefile: "name other: prerequisites", not
// "VAR := value".
var makeRule = regexp.MustCompile(`(?m)^([A-Za-z0-9_.-]+(?:[ \t]+[A-Za-z0-9_.-]+)*)[ \t]*:(?:[^=]|$)`)

// CheckMakeTargets says which `make TARGET` of the workflow's run scripts
// has no rule in makefile, so that a renamed target turns CI red here and
// not at night.
func (w Workflow) CheckMakeTargets(makefile string) error {
	b, err := os.ReadFile(makefile)
	if err != nil {
		return err
	}
	rules := map[string]bool{}
	for _, m := range makeRule.FindAllStringSubmatch(string(b), -1) {
		for _, t := range strings.Fields(m[1]) {
			rules[t] = true
		}
	}
	var errs []error
	for _, id := range w.jobIDs() {
		for _, step := range w.Jobs[id].Steps {
			run, ok := step.Exec.(*actionlint.ExecRun)
			if !ok || run.Run == nil {
				continue
			}
			for _, t := range makeTargets(run.Run.Value) {
				if !rules[t] {
					errs = append(errs, fmt.Errorf("%s: job %s runs `make %s`, but %s has no rule %q; add it or fix the workflow",
						w.at(run.Run.Pos), id, t, makefile, t))
				}
			}
		}
	}
	return errors.Join(errs...)
}

// makeTargets are the targets of every make command in a shell script:
// the words after `make` up to the end of the command that are neither
// VAR=value nor options.
func makeTargets(script string) []string {
	script = expression.ReplaceAllString(strings.ReplaceAll(script, "\\\n", " "), "EXPR")
	var targets []string
	for _, line := range strings.Split(script, "\n") {
		if i := strings.Index(line, "#"); i == 0 || (i > 0 && line[i-1] == ' ') {
			line = line[:i]
		}
		words := strings.Fields(operators.Replace(line))
		for i := 0; i < len(words); i++ {
			if words[i] != "make" {
				continue
			}
		command:
			for i++; i < len(words); i++ {
				switch w := words[i]; {
				case strings.Contains(";&|()", w):
					break command
				case w == "-C" || w == "-f" || w == "-o" || w == "-W" || w == "-I":
					i++ // the option's argument
				case strings.HasPrefix(w, "-") || strings.Contains(w, "="):
				default:
					targets = append(targets, w)
				}
			}
		}
	}
	return targets
}

// expression is a workflow expression, which may hold spaces.
var expression = regexp.MustCompile(`\$\{\{.*?\}\}`)

// operators end a shell command; spaced out, each is a word of its own.
var operators = strings.NewReplacer(";", " ; ", "&", " & ", "|", " | ", "(", " ( ", ")", " ) ")
