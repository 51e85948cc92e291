package loadbalancer

// TopologyFile is the topology the checks and the templates are written
// for, relative to the repository root.
const TopologyFile = "fixtures/topology.yaml"

// Roles of the load-balancer topology that checks and diagnostics select
// their nodes by.
const (
	RoleClient       = "client"
	RoleLoadBalancer = "loadbalancer"
	RoleWeb          = "web"
)
