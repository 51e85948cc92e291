package ci

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/rhysd/actionlint"
)

// KVMRunner are the runs-on labels of the self-hosted KVM runners
// (.github/actionlint.yaml knows kvm): every job that boots guests asks
// for exactly these, so each lands on a runner set up as docs/ci.md says.
var KVMRunner = []string{"self-hosted", "linux", "x64", "kvm"}

// CheckKVMJobs says which job runs `make e2e` on other runners than
// KVMRunner: elsewhere guests would boot under emulation, or not at all.
func (w Workflow) CheckKVMJobs() error {
	var errs []error
	for _, id := range w.jobIDs() {
		job := w.Jobs[id]
		if !slices.Contains(w.targets(job), "e2e") {
			continue
		}
		var labels []string
		if job.RunsOn != nil {
			for _, l := range job.RunsOn.Labels {
				labels = append(labels, l.Value)
			}
		}
		if !slices.Equal(labels, KVMRunner) {
			errs = append(errs, fmt.Errorf("%s: job %s runs `make e2e` on [%s]; give it runs-on: [%s], the KVM runners' labels",
				w.at(job.Pos), id, strings.Join(labels, ", "), strings.Join(KVMRunner, ", ")))
		}
	}
	return errors.Join(errs...)
}

// targets are the make targets of a job's run scripts.
func (w Workflow) targets(job *actionlint.Job) []string {
	var out []string
	for _, step := range job.Steps {
		if run, ok := step.Exec.(*actionlint.ExecRun); ok && run.Run != nil {
			out = append(out, makeTargets(run.Run.Value)...)
		}
	}
	return out
}

// CheckPins says which action a workflow uses without a version, or at
// another version than a workflow before it: the workflows move to a new
// version of an action together, or one of them runs what the others
// have left behind.
func CheckPins(workflows []Workflow) error {
	type pin struct{ ref, where string }
	seen := map[string]pin{}
	var errs []error
	for _, w := range workflows {
		for _, id := range w.jobIDs() {
			for _, step := range w.Jobs[id].Steps {
				a, ok := step.Exec.(*actionlint.ExecAction)
				if !ok || a.Uses == nil || strings.HasPrefix(a.Uses.Value, "./") || strings.HasPrefix(a.Uses.Value, "docker://") {
					continue
				}
				where := w.at(a.Uses.Pos)
				name, ref, ok := strings.Cut(a.Uses.Value, "@")
				switch first, known := seen[name]; {
				case !ok || ref == "":
					errs = append(errs, fmt.Errorf("%s: job %s uses %s without a version; pin it as the other workflows do (%s@vN)", where, id, name, name))
				case known && first.ref != ref:
					errs = append(errs, fmt.Errorf("%s: job %s uses %s@%s, but %s has @%s; use one version in every workflow", where, id, name, ref, first.where, first.ref))
				case !known:
					seen[name] = pin{ref, where}
				}
			}
		}
	}
	return errors.Join(errs...)
}

// CheckPaths says which `paths:` filter of the workflow's triggers matches
// none of files (the repository's, relative to its root): a filter left
// behind by a rename no longer starts the workflow for what it meant.
func (w Workflow) CheckPaths(files []string) error {
	var errs []error
	for _, ev := range w.On {
		hook, ok := ev.(*actionlint.WebhookEvent)
		if !ok {
			continue
		}
		for _, f := range []*actionlint.WebhookEventFilter{hook.Paths, hook.PathsIgnore} {
			if f.IsEmpty() {
				continue
			}
			for _, p := range f.Values {
				pattern := strings.TrimPrefix(p.Value, "!")
				re, err := pathFilter(pattern)
				if err != nil {
					errs = append(errs, fmt.Errorf("%s: %s filter %q: %w", w.at(p.Pos), f.Name.Value, p.Value, err))
					continue
				}
				if !slices.ContainsFunc(files, re.MatchString) {
					errs = append(errs, fmt.Errorf("%s: %s filter %q of %s matches no file of the repository; fix it to the path it meant", w.at(p.Pos), f.Name.Value, p.Value, hook.Hook.Value))
				}
			}
		}
	}
	return errors.Join(errs...)
}

// pathFilter is GitHub's filter pattern as a regular expression: `**`
// any characters, `*` any but `/`, `?` one but `/`, [...] a class.
func pathFilter(pattern string) (*regexp.Regexp, error) {
	var b strings.Builder
	b.WriteString("^")
	for i := 0; i < len(pattern); i++ {
		switch c := pattern[i]; {
		case strings.HasPrefix(pattern[i:], "**"):
			b.WriteString(".*")
			i++
		case c == '*':
			b.WriteString("[^/]*")
		case c == '?':
			b.WriteString("[^/]")
		case c == '[':
			end := strings.IndexByte(pattern[i:], ']')
			if end < 0 {
				return nil, errors.New("a [ without its ]")
			}
			b.WriteString(pattern[i : i+end+1])
			i += end
		default:
			b.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	b.WriteString("$")
	return regexp.Compile(b.String())
}
