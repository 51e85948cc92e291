package checks

import (
	"context"
	"fmt"
	"strings"

	"github.com/drivelab/drivelab/framework/topology"
	"github.com/drivelab/drivelab/framework/verify"
)

// Resolve: from the client node, every FQDN resolves to its topology address.
func Resolve(ctx context.Context, env *verify.Env, node topology.Node) error {
	c, err := Root(env, node)
	if err != nil {
		return err
	}
	var cmd strings.Builder
	for _, n := range env.Topology.Nodes {
		// getent goes through nsswitch as any program on the node would.
		fmt.Fprintf(&cmd, "echo %s $(getent ahostsv4 %s | head -n1 | cut -d' ' -f1);", n.FQDN, n.FQDN)
	}
	out, err := Run(ctx, env, c, cmd.String())
	if err != nil {
		return err
	}
	return checkResolve(env.Topology, out)
}

func checkResolve(topo *topology.Topology, out string) error {
	got := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		name, addr, _ := strings.Cut(strings.TrimSpace(line), " ")
		got[name] = addr
	}
	var bad []string
	for _, n := range topo.Nodes {
		if got[n.FQDN] != n.IP.String() {
			bad = append(bad, fmt.Sprintf("%s resolves to %q, expected %s", n.FQDN, got[n.FQDN], n.IP))
		}
	}
	if bad != nil {
		return fmt.Errorf("%s", strings.Join(bad, "; "))
	}
	return nil
}
