package scenarios

import (
	"slices"

	"github.com/drivelab/drivelab/framework/verify"
	"github.com/drivelab/drivelab/scenarios/checks"
	"github.com/drivelab/drivelab/scenarios/loadbalancer"
)

// LoadBalancer is the seed's scenario: four nodes configured only by their
// config drives, verified from the test client.
var LoadBalancer = register(Scenario{
	Name:     "loadbalancer",
	Topology: loadbalancer.TopologyFile,
	// Checks run a few at a time in this order (verify.Start): the two that
	// mostly wait (sshd's delay after a wrong password, leastconn's requests)
	// go first, so the short ones fill the time beside them.
	Checks: []verify.Check{
		{Name: "password", Run: checks.Password},
		{Name: "leastconn", Roles: []string{loadbalancer.RoleLoadBalancer}, Run: loadbalancer.LeastConn},
		{Name: "hostname", Run: checks.Hostname},
		{Name: "hosts", Run: checks.Hosts},
		{Name: "resolve", Roles: []string{loadbalancer.RoleClient}, Run: checks.Resolve},
		{Name: "static-ip", Run: checks.StaticIP},
		{Name: "first-boot", Run: checks.FirstBoot},
		{Name: "identity", Run: checks.Identity},
		{Name: "services", Roles: []string{loadbalancer.RoleLoadBalancer, loadbalancer.RoleWeb}, Run: loadbalancer.Services},
	},
	Diagnostics: loadbalancer.Diagnostics,
	Lint:        append(slices.Clone(loadbalancer.LintRules), checks.LintTopology("loadbalancer", loadbalancer.TopologyFile, loadbalancer.Needs...)),
})
