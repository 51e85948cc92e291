package scenarios

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/drivelab/drivelab/framework/topology"
	"github.com/drivelab/drivelab/framework/verify"
)

// clockSkew is how far a node's clock may be from the harness's: the RTC
// it is set from counts whole seconds.
const clockSkew = 3 * time.Second

// Identity: the node is itself and no copy of another: no other node has
// its machine-id, its clock is the harness's, and eth0 has the topology's
// MAC. Nodes restored from one memory snapshot start as copies of one guest
// (framework/vm/snapshot.go), and this is what must tell them apart, as a
// cold boot does.
func Identity(ctx context.Context, env *verify.Env, node topology.Node) error {
	c, err := root(env, node)
	if err != nil {
		return err
	}
	before := time.Now()
	out, err := run(ctx, env, c, "cat /etc/machine-id; date +%s.%N; cat /sys/class/net/eth0/address")
	if err != nil {
		return err
	}
	after := time.Now()
	others := map[string]string{}
	for _, o := range env.Topology.Nodes {
		if o.Name == node.Name {
			continue
		}
		oc, err := root(env, o)
		if err != nil {
			return err
		}
		if others[o.Name], err = run(ctx, env, oc, "cat /etc/machine-id"); err != nil {
			return err
		}
	}
	return checkIdentity(node, out, others, before, after)
}

// checkIdentity reads the machine-id, clock and MAC lines of out, taken
// between before and after, against the other nodes' machine-ids.
func checkIdentity(node topology.Node, out string, others map[string]string, before, after time.Time) error {
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 {
		return fmt.Errorf("want machine-id, clock and MAC, got %q", out)
	}
	id := strings.TrimSpace(lines[0])
	if len(id) != 32 {
		return fmt.Errorf("/etc/machine-id: expected 32 hex digits, actual %q", id)
	}
	for other, oid := range others {
		if strings.TrimSpace(oid) == id {
			return fmt.Errorf("machine-id %s is also %s's: the nodes are copies of one guest", id, other)
		}
	}
	secs, err := strconv.ParseFloat(strings.TrimSpace(lines[1]), 64)
	if err != nil {
		return fmt.Errorf("clock: %q is no time", lines[1])
	}
	clock := time.Unix(0, int64(secs*1e9))
	if clock.Before(before.Add(-clockSkew)) || clock.After(after.Add(clockSkew)) {
		return fmt.Errorf("clock: the node says %s, the harness %s (more than %s apart)",
			clock.UTC().Format(time.RFC3339), before.UTC().Format(time.RFC3339), clockSkew)
	}
	if mac := strings.TrimSpace(lines[2]); !strings.EqualFold(mac, node.MAC) {
		return fmt.Errorf("eth0's MAC: expected %s, actual %s", node.MAC, mac)
	}
	return nil
}
