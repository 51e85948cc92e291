package checks

import (
	"bytes"
	"context"
	"fmt"
	"strings"

	"github.com/drivelab/drivelab/framework/lint"
	"github.com/drivelab/drivelab/framework/topology"
	"github.com/drivelab/drivelab/framework/verify"
)

// Hosts: /etc/hosts is byte-identical to the rendered hosts file, the same
// on every node, and maps every node's FQDN to its topology address.
func Hosts(ctx context.Context, env *verify.Env, node topology.Node) error {
	c, err := Root(env, node)
	if err != nil {
		return err
	}
	actual, err := Run(ctx, env, c, "cat /etc/hosts")
	if err != nil {
		return err
	}
	rendered, _ := env.File(node.Name, "hosts")
	reference, _ := env.File(env.Client.Name, "hosts")
	return checkHosts(env.Topology, node, []byte(actual), rendered.Data, reference.Data)
}

// checkHosts compares against this node's rendered file, the client's
// rendered file (so all nodes agree) and the topology itself (so a template
// that renders the same wrong line everywhere is still caught).
func checkHosts(topo *topology.Topology, node topology.Node, actual, rendered, reference []byte) error {
	if rendered == nil {
		return fmt.Errorf("the drive of %s carried no hosts file", node.Name)
	}
	if !bytes.Equal(actual, rendered) {
		return fmt.Errorf("/etc/hosts differs from the rendered file:\n%s", LineDiff(rendered, actual))
	}
	if !bytes.Equal(rendered, reference) {
		return fmt.Errorf("/etc/hosts differs from the client's:\n%s", LineDiff(reference, rendered))
	}
	byName := parseHosts(string(actual))
	for _, n := range topo.Nodes {
		if got := byName[n.FQDN]; got != n.IP.String() {
			return fmt.Errorf("/etc/hosts maps %s to %q, expected %s", n.FQDN, got, n.IP)
		}
	}
	return nil
}

// parseHosts maps each name to the first address listed for it.
func parseHosts(s string) map[string]string {
	m := map[string]string{}
	for _, line := range strings.Split(s, "\n") {
		line, _, _ = strings.Cut(line, "#")
		f := strings.Fields(line)
		for _, name := range f[min(1, len(f)):] {
			if _, seen := m[name]; !seen {
				m[name] = f[0]
			}
		}
	}
	return m
}

// LineDiff names the first differing line of want and got.
func LineDiff(want, got []byte) string {
	n, wl, gl := lint.FirstDifference(want, got)
	if n == 0 {
		return "(line endings differ)"
	}
	return fmt.Sprintf("line %d: expected %q, actual %q", n, wl, gl)
}
