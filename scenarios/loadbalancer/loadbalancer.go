// Package loadbalancer holds the checks, lint rules and diagnostics of the
// load balancer scenarios (scenarios/loadbalancer.go, scenarios/failover.go):
// haproxy on one node spreading the client's requests over the web nodes,
// each serving a page that names it. haproxycfg.go is the one reader of the
// haproxy.cfg a drive carries, for all of them.
package loadbalancer

import (
	"fmt"

	"github.com/drivelab/drivelab/framework/lint"
	"github.com/drivelab/drivelab/framework/sshx"
	"github.com/drivelab/drivelab/framework/topology"
	"github.com/drivelab/drivelab/framework/verify"
	"github.com/drivelab/drivelab/scenarios/checks"
)

// LintRules are what lint checks of the load balancer's and the web nodes'
// drives, for every scenario on this topology.
var LintRules = []lint.Rule{LintHAProxy, LintPage}

// Needs are what the checks need of a topology: leastconn, services and
// failover run on the load balancer, reading its haproxy.cfg, and spread
// requests over (or fail over between) two web nodes at least, each serving
// its page.
var Needs = []checks.RoleNeed{
	{Role: RoleLoadBalancer, Min: 1, Files: []string{haproxyConfigFile}, Why: "its leastconn and services checks"},
	{Role: RoleWeb, Min: 2, Files: []string{indexPageFile}, Why: "its leastconn, services and failover checks"},
}

// loadBalancer is what a check on the load balancer node starts from: the
// stats of the config its drive carried, a root session to it, and at least
// two web nodes.
func loadBalancer(env *verify.Env, node topology.Node, check string) (statsSource, *sshx.Client, []topology.Node, error) {
	src, _, err := loadBalancerConfig(env, node)
	if err != nil {
		return src, nil, nil, err
	}
	lb, err := checks.Root(env, node)
	if err != nil {
		return src, nil, nil, err
	}
	webs := env.Topology.NodesWithRole(RoleWeb)
	if len(webs) < 2 {
		return src, nil, nil, fmt.Errorf("%s needs at least two web nodes, the topology has %d", check, len(webs))
	}
	return src, lb, webs, nil
}

// loadBalancerConfig reads the haproxy.cfg the node's drive injected.
func loadBalancerConfig(env *verify.Env, node topology.Node) (statsSource, []byte, error) {
	f, ok := env.File(node.Name, haproxyConfigFile)
	if !ok {
		return statsSource{}, nil, fmt.Errorf("the drive of %s carried no %s", node.Name, haproxyConfigFile)
	}
	src, err := statsSourceOf(parseHaproxyConfig(f.Data), env.Topology)
	return src, f.Data, err
}
