package checks

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/drivelab/drivelab/framework/topology"
	"github.com/drivelab/drivelab/framework/verify"
	"github.com/drivelab/drivelab/framework/vm"
)

// clockSkew is how far a node's clock may be from the harness's: the RTC
// it is set from counts whole seconds.
const clockSkew = 3 * time.Second

// idsCommand prints what no two nodes may share, a "key=value" line each,
// and the gate's record with "gate-" before each of its lines;
// identityCommand adds the clock and eth0's MAC.
const (
	idsCommand = `echo machine-id=$(cat /etc/machine-id); echo boot-id=$(cat /proc/sys/kernel/random/boot_id); ` +
		`sed 's/^/gate-/' ` + vm.GateRecord
	identityCommand = idsCommand + `; echo clock=$(date +%s.%N); echo mac=$(cat /sys/class/net/eth0/address)`
)

// Identity: the node is itself and no copy of another, as a cloud's
// servers are: no other node has its machine-id, nor its boot id unless
// both were restored from memory snapshots, its clock is
// the harness's, eth0 has the topology's MAC, and the image's gate says
// which boot it opened for and, on a node restored from a memory snapshot
// (framework/vm/snapshot.go), that it did every step that makes the node
// stop sharing its snapshot's clock, random state and machine-id. Its SSH
// host key is its own too: every session pins it (framework/sshx).
func Identity(ctx context.Context, env *verify.Env, node topology.Node) error {
	c, err := Root(env, node)
	if err != nil {
		return err
	}
	before := time.Now()
	out, err := Run(ctx, env, c, identityCommand)
	if err != nil {
		return err
	}
	after := time.Now()
	others := map[string]string{}
	for _, o := range env.Topology.Nodes {
		if o.Name == node.Name {
			continue
		}
		oc, err := Root(env, o)
		if err != nil {
			return err
		}
		if others[o.Name], err = Run(ctx, env, oc, idsCommand); err != nil {
			return err
		}
	}
	return checkIdentity(node, out, others, before, after)
}

// keyValues reads "key=value" lines.
func keyValues(out string) map[string]string {
	m := map[string]string{}
	for line := range strings.SplitSeq(out, "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), "="); ok {
			m[k] = strings.TrimSpace(v)
		}
	}
	return m
}

// checkIdentity reads identityCommand's output, taken between before and
// after, against the other nodes' machine-ids and boot ids.
func checkIdentity(node topology.Node, out string, others map[string]string, before, after time.Time) error {
	got := keyValues(out)
	// The gate's record first: it names the cause of what follows.
	switch path := got["gate-path"]; path {
	case "cold":
	case "restored":
		done := strings.Fields(got["gate-steps"])
		for _, step := range vm.GateSteps {
			if !slices.Contains(done, step) {
				return fmt.Errorf("restored from a memory snapshot, but its gate did not do the %s step (%s says steps %q, skipped %q): the node keeps its snapshot's %s",
					step, vm.GateRecord, got["gate-steps"], got["gate-skipped"], step)
			}
		}
	default:
		return fmt.Errorf("%s says path %q: the image's gate did not record which boot it opened for", vm.GateRecord, path)
	}
	id := got["machine-id"]
	if len(id) != 32 {
		return fmt.Errorf("/etc/machine-id: expected 32 hex digits, actual %q", id)
	}
	if len(got["boot-id"]) != 36 {
		return fmt.Errorf("boot id: expected a uuid, actual %q", got["boot-id"])
	}
	for _, other := range slices.Sorted(maps.Keys(others)) {
		o := keyValues(others[other])
		if o["machine-id"] == id {
			return fmt.Errorf("machine-id %s is also %s's: the nodes are copies of one guest", id, other)
		}
		// The kernel makes its boot id once, when it is first read, and
		// journald reads it before the gate: nodes restored from one
		// snapshot share it (README, "What a restored node still shares").
		bothRestored := got["gate-path"] == "restored" && o["gate-path"] == "restored"
		if o["boot-id"] == got["boot-id"] && !bothRestored {
			return fmt.Errorf("boot id %s is also %s's: the nodes are copies of one guest", got["boot-id"], other)
		}
	}
	secs, err := strconv.ParseFloat(got["clock"], 64)
	if err != nil {
		return fmt.Errorf("clock: %q is no time", got["clock"])
	}
	clock := time.Unix(0, int64(secs*1e9))
	if clock.Before(before.Add(-clockSkew)) || clock.After(after.Add(clockSkew)) {
		return fmt.Errorf("clock: the node says %s, the harness %s (more than %s apart)",
			clock.UTC().Format(time.RFC3339), before.UTC().Format(time.RFC3339), clockSkew)
	}
	if mac := got["mac"]; !strings.EqualFold(mac, node.MAC) {
		return fmt.Errorf("eth0's MAC: expected %s, actual %s", node.MAC, mac)
	}
	return nil
}
