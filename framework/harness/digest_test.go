package harness

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/drivelab/drivelab/framework/render"
	"github.com/drivelab/drivelab/framework/topology"
)

const templatesDir = "../../fixtures/templates"

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// labInput renders the reference topology with debian12, placeholder
// packages and an overlay folder the test fills.
type labInput struct {
	topo              *topology.Topology
	overlay, packages string
	access            *Access
}

func newLabInput(t *testing.T) *labInput {
	t.Helper()
	topo, err := topology.Load("../../fixtures/topology.yaml")
	if err != nil {
		t.Fatal(err)
	}
	in := &labInput{topo: topo, overlay: t.TempDir(), packages: t.TempDir()}
	write(t, filepath.Join(in.packages, "haproxy.tar.gz"), "haproxy bundle\n")
	write(t, filepath.Join(in.packages, "apache2.tar.gz"), "apache2 bundle\n")
	if in.access, err = LoadOrCreateAccess(t.TempDir(), topo); err != nil {
		t.Fatal(err)
	}
	return in
}

func (in *labInput) render(t *testing.T, topo *topology.Topology) []render.Drive {
	t.Helper()
	drives, err := render.Render(context.Background(), render.Input{
		Topology: topo, TemplatesDir: templatesDir, Flavor: "debian12",
		Overlay: in.overlay, PackageDir: in.packages, Access: in.access.Render(),
	})
	if err != nil {
		t.Fatal(err)
	}
	return drives.Drives
}

// digests maps node to drive digest.
func digests(t *testing.T, drives []render.Drive) map[string]DriveDigest {
	t.Helper()
	m := map[string]DriveDigest{}
	for _, d := range drives {
		dg, err := Digest(d)
		if err != nil {
			t.Fatal(err)
		}
		m[d.Node.Name] = dg
	}
	return m
}

// differing lists the nodes whose drive digest differs, in topology order.
func differing(topo *topology.Topology, a, b map[string]DriveDigest) []string {
	var out []string
	for _, n := range topo.Nodes {
		if a[n.Name].Digest != b[n.Name].Digest {
			out = append(out, n.Name)
		}
	}
	return out
}

func TestDigestFollowsTheTemplates(t *testing.T) {
	ref := newLabInput(t)
	base := digests(t, ref.render(t, ref.topo))
	if again := digests(t, ref.render(t, ref.topo)); len(differing(ref.topo, base, again)) != 0 {
		t.Fatalf("rendering twice changed %v: the digest must depend on content only", differing(ref.topo, base, again))
	}
	page := readFile(t, filepath.Join(templatesDir, "debian12", "index.html.tmpl"))
	hosts := readFile(t, filepath.Join(templatesDir, "debian12", "hosts.tmpl"))

	cases := []struct {
		name  string
		edit  func(t *testing.T, in *labInput)
		nodes []string
		// file is the drive path that must be listed for each changed node.
		file string
	}{
		{"one line in web01's own page", func(t *testing.T, in *labInput) {
			write(t, filepath.Join(in.overlay, "nodes", "web01", "index.html.tmpl"), page+"<p>dev loop</p>\n")
		}, []string{"web01"}, "openstack/content/0002"},
		{"one line in the shared page", func(t *testing.T, in *labInput) {
			write(t, filepath.Join(in.overlay, "index.html.tmpl"), page+"<p>dev loop</p>\n")
		}, []string{"web01", "web02"}, "openstack/content/0002"},
		{"one line in hosts.tmpl", func(t *testing.T, in *labInput) {
			write(t, filepath.Join(in.overlay, "hosts.tmpl"), hosts+"# dev loop\n")
		}, []string{"test2", "haproxy", "web01", "web02"}, "openstack/content/0000"},
		{"the haproxy bundle", func(t *testing.T, in *labInput) {
			write(t, filepath.Join(in.packages, "haproxy.tar.gz"), "haproxy bundle, rebuilt\n")
		}, []string{"haproxy"}, "openstack/content/0001"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := newLabInput(t)
			// Digested now: package files are read when digested.
			before := digests(t, in.render(t, in.topo))
			rec := &Record{}
			for n, dg := range before {
				rec.Nodes = append(rec.Nodes, NodeRecord{Name: n, Drive: dg})
			}
			c.edit(t, in)
			after := in.render(t, in.topo)
			if got := differing(in.topo, before, digests(t, after)); !slices.Equal(got, c.nodes) {
				t.Errorf("changed %v, want %v", got, c.nodes)
			}
			running := map[string]string{}
			for _, n := range in.topo.Nodes {
				running[n.Name] = "running"
			}
			changed, err := changes(rec, after, running)
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, ch := range changed {
				names = append(names, ch.Node)
				if len(ch.Files) != 1 || !strings.HasPrefix(ch.Files[0], c.file+" (") {
					t.Errorf("%s: changed files %v, want only %s with its source", ch.Node, ch.Files, c.file)
				}
				if ch.Domain != "" {
					t.Errorf("%s: domain %q, but it runs", ch.Node, ch.Domain)
				}
			}
			if !slices.Equal(names, c.nodes) {
				t.Errorf("changes for %v, want %v", names, c.nodes)
			}
		})
	}
}

// A node whose domain is not running is booted again even with its drive
// unchanged; a fresh uuid changes only that node's meta_data.
func TestChangesSeeDomainsAndUUIDs(t *testing.T) {
	in := newLabInput(t)
	drives := in.render(t, in.topo)
	rec := &Record{Run: "r1"}
	for _, d := range drives {
		dg, err := Digest(d)
		if err != nil {
			t.Fatal(err)
		}
		rec.Nodes = append(rec.Nodes, NodeRecord{Name: d.Node.Name, UUID: d.Node.UUID, Drive: dg})
	}
	states := map[string]string{"test2": "running", "haproxy": "running", "web01": "shut off"}
	changed, err := changes(rec, drives, states)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range changed {
		got = append(got, c.Node+": "+c.Reason())
	}
	if want := []string{"web01: domain shut off", "web02: domain missing"}; !slices.Equal(got, want) {
		t.Errorf("changes %q, want %q", got, want)
	}

	rec.Nodes[2].UUID = "11111111-2222-4333-8444-555555555555"
	eff := rec.Effective(in.topo)
	after := digests(t, in.render(t, eff))
	if got := differing(in.topo, digests(t, drives), after); !slices.Equal(got, []string{"web01"}) {
		t.Errorf("a new uuid for web01 changed %v", got)
	}
	if files := Changed(rec.Nodes[2].Drive, after["web01"]); !slices.Equal(files, []string{render.MetaDataPath}) {
		t.Errorf("a new uuid changed %v, want only %s", files, render.MetaDataPath)
	}
}

func TestDigestNeedsPackageContent(t *testing.T) {
	in := newLabInput(t)
	drives, err := render.Render(context.Background(), render.Input{
		Topology: in.topo, TemplatesDir: templatesDir, Flavor: "debian12",
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Digest(drives.Drives[1]); err == nil || !strings.Contains(err.Error(), "node haproxy: openstack/content/0001 has no content") {
		t.Errorf("got %v", err)
	}
}

func TestChangeReason(t *testing.T) {
	c := Change{Node: "web01", Domain: "shut off", Files: []string{"openstack/content/0003 (/o/index.html.tmpl)"}}
	if got, want := c.Reason(), "domain shut off; drive changed: openstack/content/0003 (/o/index.html.tmpl)"; got != want {
		t.Errorf("Reason() = %q, want %q", got, want)
	}
}
