package harness

import (
	"slices"
	"testing"

	"github.com/drivelab/drivelab/framework/topology"
	"github.com/drivelab/drivelab/framework/verify"
)

// A scenario's diagnostics come after the harness's own, each on the nodes
// where it has something to read: the hook decides per node, from the
// files the node's drive carried.
func TestDiagnosticsAddTheScenariosOwn(t *testing.T) {
	topo := &topology.Topology{Nodes: []topology.Node{{Name: "a"}, {Name: "b"}}}
	env := &verify.Env{Topology: topo, Files: map[string][]verify.File{"b": {{Name: "app-config", Data: []byte("port 8080\n")}}}}
	extra := []verify.Diagnostic{
		{File: "everywhere.txt", Command: func(*verify.Env, topology.Node) string { return "uptime" }},
		{File: "app.txt", Command: func(env *verify.Env, n topology.Node) string {
			if _, ok := env.File(n.Name, "app-config"); ok {
				return "ss -ltnp"
			}
			return ""
		}},
	}
	files := func(ds []diagnostic) []string {
		var out []string
		for _, d := range ds {
			out = append(out, d.file)
		}
		return out
	}
	var own []string
	for _, d := range nodeDiagnostics {
		own = append(own, d.file)
	}
	for _, tc := range []struct {
		node string
		want []string
	}{
		{"a", append(slices.Clone(own), "everywhere.txt")},
		{"b", append(slices.Clone(own), "everywhere.txt", "app.txt")},
	} {
		got := diagnostics(env, topology.Node{Name: tc.node}, extra)
		if !slices.Equal(files(got), tc.want) {
			t.Errorf("node %s: diagnostics %q, want %q", tc.node, files(got), tc.want)
		}
		if d := got[len(got)-1]; tc.node == "b" && d.cmd != "ss -ltnp" {
			t.Errorf("node b: app.txt runs %q, want the hook's command", d.cmd)
		}
	}
	if got := diagnostics(env, topology.Node{Name: "a"}, nil); !slices.Equal(files(got), own) {
		t.Errorf("without a scenario's diagnostics: %q, want the harness's own %q", files(got), own)
	}
}

// The report page cuts the logs Collect reads after a failure: each must
// be one of them.
func TestReportLogsAreCollected(t *testing.T) {
	for _, f := range nodeLogs {
		if !slices.ContainsFunc(nodeDiagnostics, func(d diagnostic) bool { return d.file == f }) {
			t.Errorf("the report reads %s, which Collect does not write (nodeDiagnostics)", f)
		}
	}
}
