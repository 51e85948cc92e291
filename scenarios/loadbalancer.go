package scenarios

import (
	"slices"

	"github.com/drivelab/drivelab/framework/lint"
	"github.com/drivelab/drivelab/framework/verify"
)

// loadBalancerLint is what lint checks of the load balancer and its web
// nodes' drives, for every scenario on this topology.
var loadBalancerLint = []lint.Rule{LintHAProxy, LintPage}

// LoadBalancer is the seed's scenario: four nodes configured only by their
// config drives, verified from the test client.
var LoadBalancer = register(Scenario{
	Name:     "loadbalancer",
	Topology: "fixtures/topology.yaml",
	// Checks run a few at a time in this order (verify.Start): the two that
	// mostly wait (sshd's delay after a wrong password, leastconn's requests)
	// go first, so the short ones fill the time beside them.
	Checks: []verify.Check{
		{Name: "password", Run: Password},
		{Name: "leastconn", Roles: []string{RoleLoadBalancer}, Run: LeastConn},
		{Name: "hostname", Run: Hostname},
		{Name: "hosts", Run: Hosts},
		{Name: "resolve", Roles: []string{RoleClient}, Run: Resolve},
		{Name: "static-ip", Run: StaticIP},
		{Name: "first-boot", Run: FirstBoot},
		{Name: "identity", Run: Identity},
		{Name: "services", Roles: []string{RoleLoadBalancer, RoleWeb}, Run: Services},
	},
	Diagnostics: loadBalancerDiagnostics,
	Lint:        append(slices.Clone(loadBalancerLint), lintTopology("loadbalancer", "fixtures/topology.yaml", loadBalancerNeeds...)),
})
