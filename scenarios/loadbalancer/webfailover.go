package loadbalancer

import (
	"context"
	_ "embed"
	"fmt"
	"strings"

	"github.com/drivelab/drivelab/framework/topology"
	"github.com/drivelab/drivelab/framework/verify"
	"github.com/drivelab/drivelab/scenarios/checks"
)

// webUnit prints the web server unit that is running: apache2 (Debian) or
// httpd (CentOS).
//
//go:embed web_unit.sh
var webUnit string

// WebFailover: for each web node in turn, stopping its web server takes it
// out of haproxy's rotation within the Failover interval (haproxy's stats
// show it DOWN), after which every request from the client node reaches the
// other web nodes and none fails; starting it again brings it back UP and
// the even split returns. The stats are the gate: with `option redispatch`,
// requests can still succeed without health checks, only slower and by luck.
func WebFailover(ctx context.Context, env *verify.Env, node topology.Node) error {
	src, lb, webs, err := loadBalancer(env, node, "failover")
	if err != nil {
		return err
	}
	stats, err := startStatsReader(ctx, env, lb, src)
	if err != nil {
		return err
	}
	defer stats.Close()
	in := failoverInput{stats: stats, node: node, webs: webs}
	// Start from every server in rotation, so that a DOWN below is this
	// check's doing. Without health checks that is "no check", not "UP":
	// the fault then shows where it matters, when a stopped server stays.
	for _, w := range webs {
		if err := waitForStatus(ctx, env, in, w.Name, inRotation, "in rotation"); err != nil {
			return fmt.Errorf("before stopping anything: %w", err)
		}
	}
	for _, w := range webs {
		if err := failOver(ctx, env, in, w); err != nil {
			return err
		}
	}
	return nil
}

// failoverInput is what every step of the check shares.
type failoverInput struct {
	node  topology.Node // the load balancer
	stats *statsReader
	webs  []topology.Node
}

// failOver stops down's web server, checks the others take all requests,
// starts it again and checks the split returns. The server is started again
// whatever happens.
func failOver(ctx context.Context, env *verify.Env, in failoverInput, down topology.Node) error {
	c, err := checks.Root(env, down)
	if err != nil {
		return err
	}
	out, err := checks.Run(ctx, env, c, webUnit)
	if err != nil {
		return fmt.Errorf("no web server unit (apache2 or httpd) is active on %s: %w", down.Name, err)
	}
	unit := strings.TrimSpace(out)
	start := "systemctl start " + unit
	if _, err := checks.Run(ctx, env, c, "systemctl stop "+unit); err != nil {
		return err
	}
	defer checks.Run(context.WithoutCancel(ctx), env, c, start)
	if err := waitForStatus(ctx, env, in, down.Name, isDown, "DOWN"); err != nil {
		return fmt.Errorf("after `systemctl stop %s` on %s: %w", unit, down.Name, err)
	}
	n := requestsPerServer * len(in.webs)
	seen, err := requestPages(ctx, env, in.node, n)
	if err != nil {
		return fmt.Errorf("while %s was DOWN: %w", down.Name, err)
	}
	if err := checkAvoided(down.Name, seen, n); err != nil {
		return err
	}

	if _, err := checks.Run(ctx, env, c, start); err != nil {
		return err
	}
	if err := waitForStatus(ctx, env, in, down.Name, isUp, "UP"); err != nil {
		return fmt.Errorf("after `%s` on %s: %w", start, down.Name, err)
	}
	if seen, err = requestPages(ctx, env, in.node, n); err != nil {
		return fmt.Errorf("after %s came back UP: %w", down.Name, err)
	}
	if err := checkSplit(in.webs, seen, n); err != nil {
		return fmt.Errorf("after %s came back UP: %w", down.Name, err)
	}
	return nil
}

// waitForStatus waits, within the Failover interval, until haproxy shows
// node in the state want accepts.
func waitForStatus(ctx context.Context, env *verify.Env, in failoverInput, node string, want func(string) bool, state string) error {
	stats, err := waitForStats(ctx, env, in.stats, env.Intervals.Failover, func(stats map[string]serverStats) bool {
		return want(stats[node].Status)
	})
	if err != nil {
		return statusError(node, state, stats[node].Status, err)
	}
	return nil
}

// isUp: fully in rotation ("UP 1/2" is failing its checks already).
func isUp(status string) bool { return status == "UP" }

// inRotation: steadily taking requests, with health checks or without
// ("UP 1/2" is on its way out).
func inRotation(status string) bool { return isUp(status) || status == "no check" }

// isDown: out of rotation because its health checks failed ("DOWN", or
// "DOWN 1/2" while it recovers).
func isDown(status string) bool { return status == "DOWN" || strings.HasPrefix(status, "DOWN ") }

// statusError says which state haproxy never reached, and why when the
// status tells: "no check" means the server line has no `check`.
func statusError(node, state, last string, err error) error {
	msg := fmt.Sprintf("haproxy never showed %s %s (last status %q): %v", node, state, last, err)
	if last == "no check" {
		msg += "; haproxy notices a dead server only through health checks: add `check` to its server line"
	}
	return fmt.Errorf("%s", msg)
}

// checkAvoided wants every one of n requests answered by a node other than down.
func checkAvoided(down string, seen map[string]int, n int) error {
	answered := 0
	for _, c := range seen {
		answered += c
	}
	switch {
	case seen[down] > 0:
		return fmt.Errorf("while %s was DOWN, %d of %d requests still reached it: %v", down, seen[down], n, seen)
	case answered != n:
		return fmt.Errorf("while %s was DOWN, %d of %d requests were answered by a web node: %v", down, answered, n, seen)
	}
	return nil
}
