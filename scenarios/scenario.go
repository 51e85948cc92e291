// Package scenarios is the closed set of scenarios and of their labels: what
// the harness verifies. Each scenario is one file here naming its topology,
// templates and checks; the checks are in scenarios/checks (any scenario's)
// and in a package of the scenario's subject (scenarios/loadbalancer,
// scenarios/cloudconfig), which know no registry.
package scenarios

import (
	"fmt"
	"slices"
	"strings"

	"github.com/drivelab/drivelab/framework/lint"
	"github.com/drivelab/drivelab/framework/verify"
)

// Scenario is a topology, optional template overrides, and the checks that
// must pass once it has booted.
type Scenario struct {
	Name string
	// Topology is the topology file, relative to the repository root.
	Topology string
	// Overlay is a directory whose templates override the flavor's, or "".
	Overlay string
	// Flavors are the template flavors the scenario has templates for;
	// empty means every flavor. suites/e2e skips it, with the reason, on another.
	Flavors []string
	// FlavorOf maps a run's flavor to the one the scenario renders its
	// drives with, where they differ: twotier renders debian12's templates
	// in Nova's drive layout (debian12-nova) on a debian12 run.
	FlavorOf map[string]string
	// Labels are added to the suite's labels (from Labels, not automatic).
	Labels []string
	Checks []verify.Check
	// Diagnostics are what the scenario reads from each node after a
	// failure, next to what the harness reads from every node.
	Diagnostics []verify.Diagnostic
	// Lint are the scenario's own lint rules: what its services need of
	// the rendered drives, checked before anything boots.
	Lint []lint.Rule
}

// Disruptive reports whether the scenario's check stops or changes services.
func (s Scenario) Disruptive() bool {
	return slices.ContainsFunc(s.Checks, func(c verify.Check) bool { return c.Disruptive })
}

// SuiteLabels are all the scenario's labels: the automatic ones, then its
// own, then its name, so that a label filter can pick scenarios by name
// (`e2e diff --scenarios-only` prints one).
func (s Scenario) SuiteLabels() []string {
	labels := []string{LabelVM, LabelSlow}
	if s.Disruptive() {
		labels = append(labels, LabelDisruptive)
	}
	labels = append(labels, s.Labels...)
	if !slices.Contains(labels, s.Name) {
		labels = append(labels, s.Name)
	}
	return labels
}

// Flavor is the flavor the scenario renders with on a run of flavor run.
func (s Scenario) Flavor(run string) string {
	if f, ok := s.FlavorOf[run]; ok {
		return f
	}
	return run
}

// Supports is nil when the scenario has templates for a run of flavor.
func (s Scenario) Supports(flavor string) error {
	if len(s.Flavors) == 0 || slices.Contains(s.Flavors, s.Flavor(flavor)) {
		return nil
	}
	return fmt.Errorf("scenario %s has templates for flavor %s only, not %s", s.Name, strings.Join(s.Flavors, ", "), flavor)
}
