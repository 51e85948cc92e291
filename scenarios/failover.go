package scenarios

import (
	"slices"

	"github.com/drivelab/drivelab/framework/verify"
	"github.com/drivelab/drivelab/scenarios/checks"
	"github.com/drivelab/drivelab/scenarios/loadbalancer"
)

// Failover is the seed's topology under a dead web node. Its check is
// disruptive, so the registry keeps it alone and the suite labels it
// disruptive, outside `make e2e`'s default filter.
var Failover = register(Scenario{
	Name:     "failover",
	Topology: loadbalancer.TopologyFile,
	Labels:   []string{LabelFailover},
	Checks: []verify.Check{
		{Name: "failover", Roles: []string{loadbalancer.RoleLoadBalancer}, Run: loadbalancer.WebFailover, Disruptive: true},
	},
	Diagnostics: loadbalancer.Diagnostics,
	Lint:        append(slices.Clone(loadbalancer.LintRules), checks.LintTopology("failover", loadbalancer.TopologyFile, loadbalancer.Needs...)),
})
