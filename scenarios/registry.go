package scenarios

import (
	"fmt"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
)

// Registry holds scenarios by name and refuses one that would make a run
// ambiguous or wrong, as CoreOS kola's register.Register refuses a test
// registered twice.
type Registry struct {
	scenarios []Scenario
}

// nameRE is what a scenario name may be: it is a CLI argument and a spec name.
var nameRE = regexp.MustCompile(`^[a-z][a-z0-9-]*$`)

// Add registers s, or says what is wrong with it and how to fix it.
func (r *Registry) Add(s Scenario) error {
	if !nameRE.MatchString(s.Name) {
		return fmt.Errorf("scenario name %q: use lower-case letters, digits and dashes (it is `e2e up --scenario NAME`)", s.Name)
	}
	fail := func(format string, args ...any) error {
		return fmt.Errorf("scenario %s: %s", s.Name, fmt.Sprintf(format, args...))
	}
	if _, dup := r.Get(s.Name); dup {
		return fail("registered twice; give one of them another name")
	}
	// The name is a label of the scenario's too (SuiteLabels): a label of
	// that name must mean this scenario only.
	if slices.Contains(Labels, s.Name) && !slices.Contains(s.Labels, s.Name) {
		return fail("its name is the label %q, which would select other scenarios too; rename it, or make it the scenario's own label", s.Name)
	}
	if s.Topology == "" {
		return fail("no topology; name its file relative to the repository root, e.g. fixtures/topology.yaml")
	}
	for _, l := range s.Labels {
		switch {
		case slices.Contains(automatic, l):
			return fail("label %q is given by the suites (%s), not listed by a scenario", l, strings.Join(automatic, ", "))
		case !slices.Contains(Labels, l):
			return fail("label %q is not in scenarios.Labels (%s); add it there and to README.md", l, strings.Join(Labels, ", "))
		}
	}
	if len(s.Checks) == 0 {
		return fail("no checks")
	}
	seen := map[string]bool{}
	for i, c := range s.Checks {
		switch {
		case c.Name == "":
			return fail("check %d has no name", i+1)
		case c.Run == nil:
			return fail("check %s has no Run function", c.Name)
		case seen[c.Name]:
			return fail("two checks are named %s; the verdict has one column per check name", c.Name)
		case c.Disruptive && len(s.Checks) > 1:
			return fail("check %s is disruptive (it stops or changes services the other checks would see): give it a scenario of its own", c.Name)
		}
		seen[c.Name] = true
	}
	r.scenarios = append(r.scenarios, s)
	return nil
}

// Get returns the scenario registered under name.
func (r *Registry) Get(name string) (Scenario, bool) {
	i := slices.IndexFunc(r.scenarios, func(s Scenario) bool { return s.Name == name })
	if i < 0 {
		return Scenario{}, false
	}
	return r.scenarios[i], true
}

// All lists the scenarios in the order they were added.
func (r *Registry) All() []Scenario { return slices.Clone(r.scenarios) }

// registry holds the scenarios of this package's files.
var registry Registry

// register adds a scenario to All; each scenario file calls it once, at
// init. A refusal panics there, naming the file and line of the call, so
// a wrong scenario stops every binary and test that links this package.
func register(s Scenario) Scenario {
	mustAdd(&registry, s, 2)
	return s
}

// mustAdd adds s to r or panics naming the caller skip frames up.
func mustAdd(r *Registry, s Scenario, skip int) {
	if err := r.Add(s); err != nil {
		_, file, line, _ := runtime.Caller(skip)
		panic(fmt.Sprintf("%s:%d: %v", filepath.Join("scenarios", filepath.Base(file)), line, err))
	}
}

// All lists the registered scenarios in the order their files registered them.
func All() []Scenario { return registry.All() }

// ByName returns the registered scenario called name.
func ByName(name string) (Scenario, bool) { return registry.Get(name) }
