package checks

import (
	"context"
	"fmt"
	"strings"

	"github.com/drivelab/drivelab/framework/topology"
	"github.com/drivelab/drivelab/framework/verify"
)

// Hostname: the node's running and persisted hostname are its FQDN.
func Hostname(ctx context.Context, env *verify.Env, node topology.Node) error {
	c, err := Root(env, node)
	if err != nil {
		return err
	}
	out, err := Run(ctx, env, c, "hostname; cat /etc/hostname")
	if err != nil {
		return err
	}
	return checkHostname(node, out)
}

func checkHostname(node topology.Node, out string) error {
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 {
		return fmt.Errorf("want `hostname` and /etc/hostname, got %q", out)
	}
	for i, what := range []string{"hostname", "/etc/hostname"} {
		if got := strings.TrimSpace(lines[i]); got != node.FQDN {
			return fmt.Errorf("%s: expected %q, actual %q", what, node.FQDN, got)
		}
	}
	return nil
}
