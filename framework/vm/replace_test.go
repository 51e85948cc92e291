package vm

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/drivelab/drivelab/framework/topology"
)

// Replace removes and boots only the nodes it is given; bad input, or a
// replaced node that fails to boot, leaves the run's other nodes as they
// were. The run's nodes are defined, not started, which costs no CPU.
func TestLabReplaceTouchesOnlyItsNodes(t *testing.T) {
	conn := labConn(t)
	in, progress := labInput(t, conn)
	ctx := context.Background()
	pool, err := EnsurePool(conn, in.PoolDir)
	if err != nil {
		t.Fatal(err)
	}
	artifacts, err := absDir(in.ArtifactsDir)
	if err != nil {
		t.Fatal(err)
	}
	in.ArtifactsDir = artifacts
	run := &Cluster{ID: in.RunID, DomainType: DomainQEMU, conn: conn, pool: pool, intervals: in.Intervals, out: &reporter{}}
	t.Cleanup(func() { run.Teardown(ctx) })
	for _, n := range in.Topology.Nodes {
		node, _, err := run.define(in, n, Limits{}, artifacts, nil)
		if node != nil {
			run.Nodes = append(run.Nodes, node)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	sorted := func(s []string) []string { slices.Sort(s); return s }
	whole := sorted(leftovers(t, conn, in.RunID))
	if len(whole) != 3*len(in.Topology.Nodes) {
		t.Fatalf("defined %v, want a domain and two volumes per node", whole)
	}

	infos, err := List(conn)
	if err != nil {
		t.Fatal(err)
	}
	var mine []string
	for _, d := range infos {
		if d.Owner.Run == in.RunID {
			mine = append(mine, d.Owner.Node+" "+d.State.String())
		}
	}
	if want := []string{"haproxy DomainShutoff", "test2 DomainShutoff", "web01 DomainShutoff", "web02 DomainShutoff"}; !slices.Equal(mine, want) {
		t.Errorf("List: %v, want %v", mine, want)
	}

	web01 := *in.Topology
	web01.Nodes = slices.DeleteFunc(slices.Clone(in.Topology.Nodes), func(n topology.Node) bool { return n.Name != "web01" })
	sub := in
	sub.Topology = &web01
	sub.Drives = map[string]string{"web01": in.Drives["web01"]}
	sub.Intervals.Stall = 5 * time.Second

	t.Run("bad input removes nothing", func(t *testing.T) {
		bad := sub
		bad.Drives = map[string]string{}
		if _, err := Replace(ctx, bad); err == nil || !strings.Contains(err.Error(), "node web01: config drive") {
			t.Fatalf("got %v, want the missing drive named", err)
		}
		if left := sorted(leftovers(t, conn, in.RunID)); !slices.Equal(left, whole) {
			t.Errorf("left %v, want %v", left, whole)
		}
	})

	t.Run("a failed boot takes only the replaced node", func(t *testing.T) {
		oldConsole := filepath.Join(artifacts, DomainName(in.RunID, "web01")+".console.log")
		if err := os.WriteFile(oldConsole, []byte("the previous boot\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := Replace(ctx, sub)
		if err == nil || !strings.Contains(err.Error(), "wrote nothing to its console within 5s (Boot)") {
			t.Fatalf("got %v, want the blank disk's boot timeout", err)
		}
		if !strings.Contains(progress.String(), "replacing web01 (removed 3: domain "+DomainName(in.RunID, "web01")) {
			t.Errorf("progress does not say what was removed:\n%s", progress)
		}
		want := slices.DeleteFunc(slices.Clone(whole), func(s string) bool { return strings.Contains(s, "-web01") })
		if left := sorted(leftovers(t, conn, in.RunID)); !slices.Equal(left, want) {
			t.Errorf("left %v, want the other nodes untouched: %v", left, want)
		}
		if b, err := os.ReadFile(oldConsole + ".old"); err != nil || string(b) != "the previous boot\n" {
			t.Errorf("previous console not kept as .old: %q, %v", b, err)
		}
	})
}
