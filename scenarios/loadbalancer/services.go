package loadbalancer

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/drivelab/drivelab/framework/topology"
	"github.com/drivelab/drivelab/framework/verify"
	"github.com/drivelab/drivelab/scenarios/checks"
)

// Services: haproxy runs with the injected config and listens on port 80 of
// the load balancer's address; each web node serves its own page to the
// client node.
func Services(ctx context.Context, env *verify.Env, node topology.Node) error {
	switch node.Role {
	case RoleLoadBalancer:
		return haproxyService(ctx, env, node)
	case RoleWeb:
		return webService(ctx, env, node)
	}
	return fmt.Errorf("no service check for role %q", node.Role)
}

func haproxyService(ctx context.Context, env *verify.Env, node topology.Node) error {
	_, injected, err := loadBalancerConfig(env, node)
	if err != nil {
		return err
	}
	c, err := checks.Root(env, node)
	if err != nil {
		return err
	}
	procs, err := checks.Run(ctx, env, c, "pgrep -a -x haproxy || true")
	if err != nil {
		return err
	}
	configs := haproxyConfigPaths(procs)
	if len(configs) == 0 {
		return fmt.Errorf("no haproxy process with -f CONFIG is running (pgrep: %q)", strings.TrimSpace(procs))
	}
	sums, err := checks.Run(ctx, env, c, "sha256sum "+strings.Join(configs, " "))
	if err != nil {
		return err
	}
	listen, err := checks.Run(ctx, env, c, "ss -Hltn")
	if err != nil {
		return err
	}
	return checkHaproxyService(node, injected, sums, listen)
}

// haproxyConfigPaths returns the -f arguments of running haproxy processes.
func haproxyConfigPaths(pgrep string) []string {
	var paths []string
	for _, line := range strings.Split(pgrep, "\n") {
		f := strings.Fields(line)
		for i := range f {
			if f[i] == "-f" && i+1 < len(f) {
				paths = append(paths, f[i+1])
			}
		}
	}
	return paths
}

func checkHaproxyService(node topology.Node, injected []byte, sums, listen string) error {
	sum := sha256.Sum256(injected)
	want := hex.EncodeToString(sum[:])
	if !strings.Contains(sums, want) {
		return fmt.Errorf("haproxy runs with a config other than the injected one (sha256 %.12s…): %s", want, strings.TrimSpace(sums))
	}
	for _, line := range strings.Split(listen, "\n") {
		f := strings.Fields(line)
		if len(f) >= 4 {
			switch f[3] {
			case node.IP.String() + ":80", "0.0.0.0:80", "*:80", "[::]:80":
				return nil
			}
		}
	}
	return fmt.Errorf("nothing listens on %s:80; listeners: %s", node.IP, strings.Join(strings.Fields(listen), " "))
}

func webService(ctx context.Context, env *verify.Env, node topology.Node) error {
	// By address, so a broken hosts file fails the hosts check, not this
	// one; from the node the harness reaches it through (the client, on one
	// network), since on several the client may not reach it at all.
	via, addr := env.Via(node)
	page, err := checks.Run(ctx, env, via, fmt.Sprintf("curl -sS --fail --max-time %d http://%s/",
		int(env.Intervals.Command.Seconds()), addr))
	if err != nil {
		return fmt.Errorf("GET http://%s/ from %s: %w", addr, via.Name(), err)
	}
	injected, _ := env.File(node.Name, indexPageFile)
	return checkWebPage(env.Topology, node, page, injected.Data)
}

// checkWebPage wants the page to name its own node and no other, and to be
// the page the drive carried.
func checkWebPage(topo *topology.Topology, node topology.Node, page string, injected []byte) error {
	if owner := pageOwner(topo, page); owner != node.Name {
		return fmt.Errorf("page served by %s: expected it to name %s only, actual %q", node.Name, node.FQDN, strings.TrimSpace(page))
	}
	if injected != nil && page != string(injected) {
		return fmt.Errorf("page served by %s differs from the injected index page: expected %q, actual %q", node.Name, injected, page)
	}
	return nil
}
