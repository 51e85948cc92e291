package drivediff

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/drivelab/drivelab/framework/render"
	"github.com/drivelab/drivelab/framework/testenv"
)

// The trees are a git repository made in the test from the repository's
// own templates and topologies, and scenarios standing in for the
// registry's (framework/ knows none of those): two on the reference
// topology, one on the cloud-config topology for debian12 only.
var scenarios = []Scenario{
	{Name: "web", Topology: "fixtures/topology.yaml"},
	{Name: "app", Topology: "fixtures/topology-cloudconfig.yaml", Flavors: []string{"debian12"}},
	{Name: "stop", Topology: "fixtures/topology.yaml"},
}

// repo is a git repository holding a copy of fixtures/templates and the
// topologies, committed once.
func repo(t *testing.T) string {
	t.Helper()
	testenv.Tool(t, "git")
	dir := t.TempDir()
	if err := os.CopyFS(filepath.Join(dir, "fixtures", "templates"), os.DirFS("../../fixtures/templates")); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"topology.yaml", "topology-cloudconfig.yaml"} {
		b, err := os.ReadFile(filepath.Join("../../fixtures", f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "fixtures", f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	gitIn(t, dir, "init", "-q", "-b", "work")
	commitAll(t, dir, "fixtures")
	return dir
}

func gitIn(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-C", dir, "-c", "user.name=t", "-c", "user.email=t@example.org", "-c", "commit.gpgsign=false"}, args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

func commitAll(t *testing.T, dir, msg string) {
	t.Helper()
	gitIn(t, dir, "add", "-A")
	gitIn(t, dir, "commit", "-q", "-m", msg)
}

// edit replaces old by new in the file rel of dir, which must hold old.
func edit(t *testing.T, dir, rel, old, new string) {
	t.Helper()
	p := filepath.Join(dir, rel)
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, []byte(old)) {
		t.Fatalf("%s holds no %q", rel, old)
	}
	if err := os.WriteFile(p, bytes.Replace(b, []byte(old), []byte(new), 1), 0o644); err != nil {
		t.Fatal(err)
	}
}

// diffHead compares the work tree of dir with its HEAD, through Extract.
func diffHead(t *testing.T, dir string, sc []Scenario) *Report {
	t.Helper()
	base := t.TempDir()
	keep := []string{"fixtures/templates"}
	for _, s := range sc {
		keep = append(keep, s.Topology)
	}
	if err := Extract(context.Background(), dir, "HEAD", base, keep); err != nil {
		t.Fatal(err)
	}
	rep, err := Diff(context.Background(), Input{Base: base, Work: dir, Templates: "fixtures/templates", Scenarios: sc})
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func touched(r *Report) []string {
	var names []string
	for _, t := range r.Touched {
		names = append(names, t.Scenario)
	}
	return names
}

func TestNothingChanged(t *testing.T) {
	r := diffHead(t, repo(t), scenarios)
	var text strings.Builder
	if err := r.WriteText(&text, "HEAD"); err != nil {
		t.Fatal(err)
	}
	if !r.Empty() || r.LabelFilter() != "" || text.String() != "no drive changes against HEAD\n" {
		t.Errorf("an unchanged tree: touched %v, filter %q, text %q", touched(r), r.LabelFilter(), text.String())
	}
}

// A one-line change in haproxy.cfg.tmpl changes haproxy's drive alone, in
// debian12 and the flavor that takes its templates (debian12-nova) only,
// and touches the two scenarios of its topology.
func TestATemplateChangeNamesItsNodeFileAndScenarios(t *testing.T) {
	dir := repo(t)
	edit(t, dir, "fixtures/templates/debian12/haproxy.cfg.tmpl", "    retries 3\n", "    retries 2\n")
	r := diffHead(t, dir, scenarios)
	if got := touched(r); !slices.Equal(got, []string{"web", "stop"}) || r.LabelFilter() != "web || stop" {
		t.Fatalf("touched %v (filter %q), want web and stop", got, r.LabelFilter())
	}
	var flavors []string
	for _, g := range r.Renderings {
		flavors = append(flavors, g.Flavor)
		if len(g.Nodes) != 1 {
			t.Fatalf("rendering %+v: want one node changed", g)
		}
	}
	if !slices.Equal(flavors, []string{"debian12", "debian12-nova"}) {
		t.Fatalf("renderings of flavors %v, want debian12's and debian12-nova's of the reference topology", flavors)
	}
	n := r.Renderings[0].Nodes[0]
	if n.Node != "haproxy" || len(n.Files) != 1 {
		t.Fatalf("changed %+v, want haproxy's haproxy.cfg alone", n)
	}
	f := n.Files[0]
	if f.Guest != "/var/tmp/drivelab/haproxy.cfg" || f.Template != "fixtures/templates/debian12/haproxy.cfg.tmpl" ||
		!strings.Contains(f.Diff, "-    retries 3\n+    retries 2\n") || !strings.HasPrefix(f.Diff, "--- a/haproxy/openstack/content/") {
		t.Errorf("the file change %+v, want the guest path, the template and the one-line diff", f)
	}
	if why := r.Touched[0].Why; !slices.Equal(why, []string{"debian12: haproxy", "debian12-nova: haproxy"}) {
		t.Errorf("why web is touched: %v", why)
	}
}

// A template no flavor.yaml names renders into no drive: nothing is touched.
func TestAnUnusedTemplateTouchesNothing(t *testing.T) {
	dir := repo(t)
	if err := os.WriteFile(filepath.Join(dir, "fixtures/templates/debian12/motd.tmpl"), []byte("welcome\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	commitAll(t, dir, "motd")
	edit(t, dir, "fixtures/templates/debian12/motd.tmpl", "welcome", "welcome to {{.Node.Name}}")
	if r := diffHead(t, dir, scenarios); !r.Empty() {
		t.Errorf("an unused template touched %v: %+v", touched(r), r.Renderings)
	}
}

// A topology change that renders the same drives still touches its
// scenarios: it is what they boot.
func TestATopologyChangeTouchesItsScenarios(t *testing.T) {
	dir := repo(t)
	edit(t, dir, "fixtures/topology-cloudconfig.yaml", "\n", "\n# a comment only\n")
	r := diffHead(t, dir, scenarios)
	if got := touched(r); !slices.Equal(got, []string{"app"}) || !slices.Equal(r.Touched[0].Why, []string{"fixtures/topology-cloudconfig.yaml changed"}) {
		t.Errorf("touched %v (%+v), want app for its topology file", got, r.Touched)
	}
}

// centos7's own template touches only centos7's renderings; the
// debian12-only scenario is not among them.
func TestAFlavorsTemplateTouchesThatFlavorOnly(t *testing.T) {
	dir := repo(t)
	edit(t, dir, "fixtures/templates/centos7/hosts.tmpl", "\n", "\n# changed\n")
	r := diffHead(t, dir, scenarios)
	if got := touched(r); !slices.Equal(got, []string{"web", "stop"}) {
		t.Fatalf("touched %v, want web and stop", got)
	}
	for _, g := range r.Renderings {
		if g.Flavor != "centos7" || len(g.Nodes) != 4 {
			t.Errorf("rendering %s %s: %d nodes changed, want centos7's four", g.Flavor, g.Topology, len(g.Nodes))
		}
	}
}

// A scenario whose topology is new has every drive file new; one the
// work tree cannot render is an error naming the file to fix.
func TestNewAndBrokenTopologies(t *testing.T) {
	dir := repo(t)
	b, _ := os.ReadFile(filepath.Join(dir, "fixtures/topology-cloudconfig.yaml"))
	if err := os.WriteFile(filepath.Join(dir, "fixtures/topology-new.yaml"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	withNew := append(slices.Clone(scenarios), Scenario{Name: "new", Topology: "fixtures/topology-new.yaml", Flavors: []string{"debian12"}})
	r := diffHead(t, dir, withNew)
	if got := touched(r); !slices.Equal(got, []string{"new"}) || !slices.Contains(r.Touched[0].Why, "fixtures/topology-new.yaml is new") {
		t.Fatalf("touched %+v, want new alone, for its new topology", r.Touched)
	}
	for _, n := range r.Renderings[0].Nodes {
		for _, f := range n.Files {
			if !strings.HasPrefix(f.Diff, "--- /dev/null\n") {
				t.Errorf("%s %s: %q, want a file new from /dev/null", n.Node, f.Path, f.Diff)
			}
		}
	}

	edit(t, dir, "fixtures/templates/debian12/hosts.tmpl", "{{", "{{ .Nope")
	base := t.TempDir()
	if err := Extract(context.Background(), dir, "HEAD", base, []string{"fixtures"}); err != nil {
		t.Fatal(err)
	}
	_, err := Diff(context.Background(), Input{Base: base, Work: dir, Templates: "fixtures/templates", Scenarios: scenarios})
	if err == nil || !strings.Contains(err.Error(), "the work tree's drives do not render") || !strings.Contains(err.Error(), "hosts.tmpl") {
		t.Errorf("a broken template: %v, want it named", err)
	}
}

// What the diff prints carries no private key: the drives are redacted
// before they are compared.
func TestDrivesAreRedacted(t *testing.T) {
	in := Input{Work: "../..", Templates: "fixtures/templates"}
	drives, err := in.drives(context.Background(), in.Work, key{"debian12", "fixtures/topology.yaml", ""})
	if err != nil {
		t.Fatal(err)
	}
	vd := drives["haproxy"][render.VendorDataPath].text
	if !strings.Contains(vd, render.RedactedKey) || strings.Contains(vd, "ZHJpdmVsYWIgZGlmZ") {
		t.Errorf("haproxy's vendor_data as compared holds a key, or no redaction mark:\n%s", vd)
	}
}

// Extract takes the revision's files, not the work tree's, and only those
// under the paths kept.
func TestExtractTakesTheRevisionsFiles(t *testing.T) {
	dir := repo(t)
	edit(t, dir, "fixtures/topology.yaml", "web02", "web9")
	out := t.TempDir()
	if err := Extract(context.Background(), dir, "HEAD", out, []string{"fixtures/topology.yaml"}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(out, "fixtures/topology.yaml"))
	if err != nil || !bytes.Contains(b, []byte("web02")) {
		t.Errorf("topology.yaml from HEAD: %v, holds web02: %v", err, bytes.Contains(b, []byte("web02")))
	}
	if _, err := os.Stat(filepath.Join(out, "fixtures/templates")); err == nil {
		t.Error("Extract wrote a folder it was not asked for")
	}
	if err := Extract(context.Background(), dir, "no-such-rev", t.TempDir(), nil); err == nil || !strings.Contains(err.Error(), `--base "no-such-rev" is not a commit`) {
		t.Errorf("an unknown revision: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := Extract(ctx, dir, "HEAD", t.TempDir(), []string{"fixtures"}); err == nil {
		t.Error("Extract went on with its context ended")
	}
}

// The default base is the merge-base with origin/main when there is one,
// else HEAD.
func TestDefaultBase(t *testing.T) {
	dir := repo(t)
	head := gitIn(t, dir, "rev-parse", "HEAD")
	if rev, what, err := DefaultBase(context.Background(), dir); err != nil || rev != head || !strings.Contains(what, "HEAD; there is no origin/main") {
		t.Errorf("without origin/main: %s (%s), %v; want HEAD %s", rev, what, err, head)
	}
	gitIn(t, dir, "update-ref", "refs/remotes/origin/main", head)
	edit(t, dir, "fixtures/topology.yaml", "\n", "\n# later\n")
	commitAll(t, dir, "later")
	if rev, what, err := DefaultBase(context.Background(), dir); err != nil || rev != head || what != "merge-base with origin/main" {
		t.Errorf("with origin/main: %s (%s), %v; want the merge-base %s", rev, what, err, head)
	}
}
