package scenarios

// Roles of the load-balancer topology (fixtures/topology.yaml) that checks
// and diagnostics select their nodes by.
const (
	RoleClient       = "client"
	RoleLoadBalancer = "loadbalancer"
	RoleWeb          = "web"
)
