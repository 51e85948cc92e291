package scenarios

import (
	"slices"

	"github.com/drivelab/drivelab/framework/verify"
)

// Failover is the seed's topology under a dead web node. Its check is
// disruptive, so the registry keeps it alone and the suite labels it
// disruptive, outside `make e2e`'s default filter.
var Failover = register(Scenario{
	Name:     "failover",
	Topology: "fixtures/topology.yaml",
	Labels:   []string{LabelFailover},
	Checks: []verify.Check{
		{Name: "failover", Roles: []string{RoleLoadBalancer}, Run: WebFailover, Disruptive: true},
	},
	Diagnostics: loadBalancerDiagnostics,
	Lint:        append(slices.Clone(loadBalancerLint), lintTopology("failover", "fixtures/topology.yaml", loadBalancerNeeds...)),
})
