// Package checktest holds what the tests of scenarios/ share: the reference
// topology (fixtures/topology.yaml) and its nodes, and an error held to the
// message it must carry.
package checktest

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/drivelab/drivelab/framework/topology"
)

// Reference loads fixtures/topology.yaml; root is the repository root,
// relative to the test's package ("../..").
func Reference(t testing.TB, root string) *topology.Topology {
	t.Helper()
	topo, err := topology.Load(filepath.Join(root, "fixtures", "topology.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return topo
}

// Node is topo's node called name.
func Node(t testing.TB, topo *topology.Topology, name string) topology.Node {
	t.Helper()
	n, ok := topo.Node(name)
	if !ok {
		t.Fatalf("no node %s", name)
	}
	return n
}

// WantErr wants err to mention substr, or, with substr "", no error.
func WantErr(t testing.TB, err error, substr string) {
	t.Helper()
	if substr == "" {
		if err != nil {
			t.Fatalf("unexpected failure: %v", err)
		}
		return
	}
	if err == nil || !strings.Contains(err.Error(), substr) {
		t.Fatalf("error = %v, want it to mention %q", err, substr)
	}
}
