package scenarios

import (
	"slices"

	"github.com/drivelab/drivelab/framework/verify"
	"github.com/drivelab/drivelab/scenarios/checks"
	"github.com/drivelab/drivelab/scenarios/loadbalancer"
)

// TwoTierTopology is the twotier scenario's topology: the seed's nodes on a
// front network (IPv4 and IPv6) and a back one (VLAN 20), haproxy on both
// through a bond.
const TwoTierTopology = "fixtures/topology-twotier.yaml"

// TwoTier is the load balancer as a cloud with several networks hands it
// out: test2 on the front, the web nodes on the back, haproxy on both. Its
// network checks compare every node's interfaces, routes and DNS servers
// with the topology and prove who reaches whom; the load balancer's own
// checks run through the back network. It boots four nodes of its own, so
// `make e2e` leaves it out: `make twotier` runs it.
var TwoTier = register(Scenario{
	Name:     "twotier",
	Topology: TwoTierTopology,
	// The network_data.json template with bonds, VLANs and IPv6 is debian12's
	// (debian12-nova takes its templates); a debian12 run writes them in
	// Nova's drive layout, a folder per metadata version, as a cloud does.
	Flavors:  []string{"debian12", "debian12-nova"},
	FlavorOf: map[string]string{"debian12": "debian12-nova"},
	Labels:   []string{LabelTwoTier},
	Checks: []verify.Check{
		{Name: "password", Run: checks.Password},
		{Name: "leastconn", Roles: []string{loadbalancer.RoleLoadBalancer}, Run: loadbalancer.LeastConn},
		{Name: "reach", Run: checks.Reach},
		{Name: "nics", Run: checks.NICs},
		{Name: "routes", Run: checks.Routes},
		{Name: "dns", Run: checks.DNS},
		{Name: "drive-layout", Run: checks.DriveLayout},
		{Name: "hostname", Run: checks.Hostname},
		{Name: "hosts", Run: checks.Hosts},
		{Name: "first-boot", Run: checks.FirstBoot},
		{Name: "identity", Run: checks.Identity},
		{Name: "services", Roles: []string{loadbalancer.RoleLoadBalancer, loadbalancer.RoleWeb}, Run: loadbalancer.Services},
	},
	Diagnostics: loadbalancer.Diagnostics,
	Lint:        append(slices.Clone(loadbalancer.LintRules), checks.LintTopology("twotier", TwoTierTopology, loadbalancer.Needs...)),
})
