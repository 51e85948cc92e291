package checks

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/drivelab/drivelab/framework/lint"
)

// RoleNeed is what a scenario's checks need of the topology: at least Min
// nodes of Role, their role carrying Files.
type RoleNeed struct {
	Role  string
	Min   int
	Files []string
	Why   string // which checks need them
}

// LintTopology is a scenario's rule refusing a topology it cannot run on;
// reference is the scenario's own topology, which it can.
// A check limited to a role no node has runs on nothing and passes, so
// `lint --scenario loadbalancer` on a topology without a load balancer
// would be green and the boot would check nothing of it.
func LintTopology(scenario, reference string, needs ...RoleNeed) lint.Rule {
	return func(_ context.Context, p *lint.Pass) {
		t := p.Topology
		for _, need := range needs {
			nodes := t.NodesWithRole(need.Role)
			if len(nodes) < need.Min {
				// t.At names the file and the line of its nodes.
				p.Report(lint.Problem{File: t.At("nodes"), Message: fmt.Sprintf(
					"scenario %s cannot run on this topology: it has %d node(s) of role %s, and %s need at least %d; add nodes with `role: %s` (%s has them), or lint with the --scenario this topology is for",
					scenario, len(nodes), need.Role, need.Why, need.Min, need.Role, reference)})
				continue
			}
			role, ok := t.Roles[need.Role]
			if !ok {
				continue
			}
			for _, f := range need.Files {
				if !slices.Contains(role.Files, f) {
					p.Report(lint.Problem{File: t.At("roles." + need.Role + ".files"), Message: fmt.Sprintf(
						"scenario %s cannot run on this topology: role %s does not carry %q, which %s read; add it to roles.%s.files (have %s)",
						scenario, need.Role, f, need.Why, need.Role, strings.Join(role.Files, ", "))})
				}
			}
		}
	}
}
