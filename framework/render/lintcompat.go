package render

// What framework/lint still checks the load balancer's config against.
// Render itself uses neither: templates select nodes by the roles they name
// ({{range .NodesWithRole ROLE}}). Both go when lint stops knowing the load
// balancer (issue #11, items 1 and 2).
const (
	// Deprecated: the load balancer's backend role, for framework/lint only.
	BackendRole = "web"
	// Deprecated: the load balancer's balance algorithm, for framework/lint only.
	Balance = "leastconn"
)
