package loadbalancer

import (
	"strings"

	"github.com/drivelab/drivelab/framework/topology"
	"github.com/drivelab/drivelab/framework/verify"
	"github.com/drivelab/drivelab/scenarios/checks"
)

// Diagnostics explain a failed check of the load-balancer
// scenarios, on top of what the harness reads from every node: which
// servers run and listen, and haproxy's own view of its servers.
var Diagnostics = []verify.Diagnostic{
	{File: "services.txt", Command: func(*verify.Env, topology.Node) string {
		return "ps -eo pid,args | grep -E 'haproxy|apache2|httpd' | grep -v grep; ss -ltnp"
	}},
	{File: "haproxy-stats.txt", Command: haproxyStatsDump},
}

// haproxyStatsDump is `show stat` from every stats socket of the haproxy.cfg
// the node's drive carried, read from the file rather than from guest paths
// a flavor chose; "" on a node that carried none.
func haproxyStatsDump(env *verify.Env, node topology.Node) string {
	f, ok := env.File(node.Name, haproxyConfigFile)
	if !ok {
		return ""
	}
	var cmds []string
	for _, s := range parseHaproxyConfig(f.Data).socketPaths() {
		cmds = append(cmds, "echo "+checks.ShellQuote("== "+s)+"; "+statsCommand(s))
	}
	return strings.Join(cmds, "; ")
}
