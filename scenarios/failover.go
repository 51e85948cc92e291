package scenarios

import "github.com/drivelab/drivelab/framework/verify"

// Failover is the seed's topology under a dead web node. It runs alone: it
// stops web servers, which every other check would notice.
var Failover = register(Scenario{
	Name:     "failover",
	Topology: "fixtures/topology.yaml",
	Labels:   []string{"failover"},
	Checks: []verify.Check{
		{Name: "failover", Roles: []string{RoleLoadBalancer}, Run: WebFailover},
	},
	Diagnostics: loadBalancerDiagnostics,
	Lint: loadBalancerLint,
})
