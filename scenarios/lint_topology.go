package scenarios

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/drivelab/drivelab/framework/lint"
)

// roleNeed is what a scenario's checks need of the topology: at least min
// nodes of role, their role carrying files.
type roleNeed struct {
	role  string
	min   int
	files []string
	why   string // which checks need them
}

// lintTopology is a scenario's rule refusing a topology it cannot run on;
// reference is the scenario's own topology, which it can.
// A check limited to a role no node has runs on nothing and passes, so
// `lint --scenario loadbalancer` on a topology without a load balancer
// would be green and the boot would check nothing of it.
func lintTopology(scenario, reference string, needs ...roleNeed) lint.Rule {
	return func(_ context.Context, p *lint.Pass) {
		t := p.Topology
		for _, need := range needs {
			nodes := t.NodesWithRole(need.role)
			if len(nodes) < need.min {
				// t.At names the file and the line of its nodes.
				p.Report(lint.Problem{File: t.At("nodes"), Message: fmt.Sprintf(
					"scenario %s cannot run on this topology: it has %d node(s) of role %s, and %s need at least %d; add nodes with `role: %s` (%s has them), or lint with the --scenario this topology is for",
					scenario, len(nodes), need.role, need.why, need.min, need.role, reference)})
				continue
			}
			role, ok := t.Roles[need.role]
			if !ok {
				continue
			}
			for _, f := range need.files {
				if !slices.Contains(role.Files, f) {
					p.Report(lint.Problem{File: t.At("roles." + need.role + ".files"), Message: fmt.Sprintf(
						"scenario %s cannot run on this topology: role %s does not carry %q, which %s read; add it to roles.%s.files (have %s)",
						scenario, need.role, f, need.why, need.role, strings.Join(role.Files, ", "))})
				}
			}
		}
	}
}

// loadBalancerNeeds are what the load balancer's checks need: leastconn,
// services and failover run on the load balancer, reading its haproxy.cfg,
// and spread requests over (or fail over between) two web nodes at least,
// each serving its page.
var loadBalancerNeeds = []roleNeed{
	{role: RoleLoadBalancer, min: 1, files: []string{haproxyConfigFile}, why: "its leastconn and services checks"},
	{role: RoleWeb, min: 2, files: []string{indexPageFile}, why: "its leastconn, services and failover checks"},
}
