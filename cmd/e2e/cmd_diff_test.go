package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/drivelab/drivelab/framework/testenv"
	"github.com/drivelab/drivelab/framework/topology"
	"github.com/drivelab/drivelab/scenarios"
)

// diffRepo is a git repository holding a copy of the fixtures every
// registered scenario renders from (the templates and each topology),
// committed once, with TMPDIR a folder of its own to show that e2e diff
// leaves nothing there.
func diffRepo(t *testing.T) (dir, tmp string) {
	t.Helper()
	testenv.Tool(t, "git")
	dir, tmp = t.TempDir(), t.TempDir()
	t.Setenv("TMPDIR", tmp)
	if err := os.CopyFS(filepath.Join(dir, "fixtures", "templates"), os.DirFS("../../fixtures/templates")); err != nil {
		t.Fatal(err)
	}
	for _, sc := range scenarios.All() {
		b, err := os.ReadFile(filepath.Join("../..", sc.Topology))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, sc.Topology), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	git(t, dir, "init", "-q", "-b", "work")
	git(t, dir, "add", "-A")
	git(t, dir, "commit", "-q", "-m", "fixtures")
	return dir, tmp
}

func git(t *testing.T, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-C", dir, "-c", "user.name=t", "-c", "user.email=t@example.org", "-c", "commit.gpgsign=false"}, args...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// diff runs `e2e diff args` in dir and returns what it printed; it must
// leave no folder in tmp.
func diff(t *testing.T, dir, tmp string, args ...string) string {
	t.Helper()
	var out bytes.Buffer
	if err := runDiff(context.Background(), args, dir, &out); err != nil {
		t.Fatalf("e2e diff %s: %v", strings.Join(args, " "), err)
	}
	if left, _ := os.ReadDir(tmp); len(left) > 0 {
		t.Errorf("e2e diff left %v in TMPDIR", left)
	}
	return out.String()
}

func replaceIn(t *testing.T, path, old, new string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, []byte(old)) {
		t.Fatalf("%s holds no %q", path, old)
	}
	if err := os.WriteFile(path, bytes.Replace(b, []byte(old), []byte(new), 1), 0o644); err != nil {
		t.Fatal(err)
	}
}

// haproxyScenarios are the registered scenarios that boot a node named
// haproxy under debian12, as a label filter, and the others' names.
func haproxyScenarios(t *testing.T) (filter string, others []string) {
	t.Helper()
	var names []string
	for _, sc := range scenarios.All() {
		topo, err := topology.Load(filepath.Join("../..", sc.Topology))
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := topo.Node("haproxy"); ok && sc.Supports("debian12") == nil {
			names = append(names, sc.Name)
		} else {
			others = append(others, sc.Name)
		}
	}
	return strings.Join(names, " || "), others
}

// A one-line change to debian12's haproxy.cfg.tmpl: the diff names
// haproxy's drive file and its template, and selects the scenarios that
// boot haproxy (loadbalancer, failover), not the others (cloudconfig).
func TestDiffNamesHaproxysDriveAndItsScenarios(t *testing.T) {
	filter, others := haproxyScenarios(t)
	if !strings.Contains(filter, "failover || loadbalancer") || !slices.Contains(others, "cloudconfig") {
		t.Fatalf("the registry's haproxy scenarios are %q, others %v: want failover and loadbalancer among them, cloudconfig not", filter, others)
	}
	dir, tmp := diffRepo(t)
	replaceIn(t, filepath.Join(dir, "fixtures/templates/debian12/haproxy.cfg.tmpl"), "    retries 3\n", "    retries 2\n")

	text := diff(t, dir, tmp)
	want := []string{
		"(HEAD; there is no origin/main)",
		"fixtures/topology.yaml (flavor debian12; scenarios failover, loadbalancer):",
		"  haproxy: openstack/content/0002 (written to /var/tmp/drivelab/haproxy.cfg, from fixtures/templates/debian12/haproxy.cfg.tmpl)",
		"--- a/haproxy/openstack/content/0002\n+++ b/haproxy/openstack/content/0002\n",
		"-    retries 3\n+    retries 2\n",
		"label filter: " + filter + "\n",
	}
	for _, name := range strings.Split(filter, " || ") {
		want = append(want, "  "+name+": debian12: haproxy, debian12-nova: haproxy\n")
	}
	for _, w := range want {
		if !strings.Contains(text, w) {
			t.Errorf("e2e diff lacks %q:\n%s", w, text)
		}
	}
	for _, other := range append(others, "web01", "centos7") {
		if strings.Contains(text, other) {
			t.Errorf("e2e diff names %s, which the change does not touch:\n%s", other, text)
		}
	}
	if got := diff(t, dir, tmp, "--scenarios-only"); got != filter+"\n" {
		t.Errorf("--scenarios-only printed %q, want %q", got, filter)
	}
	// A CI leg boots one flavor: centos7's drives did not change.
	if got := diff(t, dir, tmp, "--scenarios-only", "--flavor", "debian12"); got != filter+"\n" {
		t.Errorf("--scenarios-only --flavor debian12 printed %q", got)
	}
	if got := diff(t, dir, tmp, "--scenarios-only", "--flavor", "centos7"); got != "\n" {
		t.Errorf("--scenarios-only --flavor centos7 printed %q, want an empty line", got)
	}
	var out bytes.Buffer
	if err := runDiff(context.Background(), []string{"--flavor", "debian13"}, dir, &out); err == nil || !strings.Contains(err.Error(), `flavor "debian13" is in neither tree's fixtures/templates; the flavors are centos7, debian12`) {
		t.Errorf("--flavor debian13: %v", err)
	}
	if err := scenarios.CheckLabelFilter(filter); err != nil {
		t.Errorf("the label filter is not one the suite takes: %v", err)
	}
	md := diff(t, dir, tmp, "--format", "markdown")
	for _, want := range []string{"### Drive changes", "label filter `" + filter + "`", "- **haproxy**: `openstack/content/0002`", "```diff\n--- a/haproxy/"} {
		if !strings.Contains(md, want) {
			t.Errorf("--format markdown lacks %q:\n%s", want, md)
		}
	}
}

// A change to a template no scenario's flavor names selects none.
func TestDiffOfAnUnusedTemplateSelectsNone(t *testing.T) {
	dir, tmp := diffRepo(t)
	unused := filepath.Join(dir, "fixtures/templates/debian12/motd.tmpl")
	if err := os.WriteFile(unused, []byte("welcome\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	git(t, dir, "add", "-A")
	git(t, dir, "commit", "-q", "-m", "motd")
	replaceIn(t, unused, "welcome", "welcome to {{.Node.Name}}")
	if got := diff(t, dir, tmp); !strings.HasPrefix(got, "no drive changes against ") {
		t.Errorf("e2e diff printed %q, want no drive changes", got)
	}
	if got := diff(t, dir, tmp, "--scenarios-only"); got != "\n" {
		t.Errorf("--scenarios-only printed %q, want an empty line", got)
	}
	if got := diff(t, dir, tmp, "--format", "markdown"); !strings.Contains(got, "no drive changes against ") {
		t.Errorf("--format markdown printed %q", got)
	}
}

// --base and the default base: committed changes since the merge-base with
// origin/main count; a stop (Ctrl-C) leaves no folder behind.
func TestDiffAgainstABaseRevision(t *testing.T) {
	dir, tmp := diffRepo(t)
	git(t, dir, "update-ref", "refs/remotes/origin/main", "HEAD")
	app := filepath.Join(dir, "fixtures/templates/debian12/user_data.app.tmpl")
	b, err := os.ReadFile(app)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(app, append(b, "# changed\n"...), 0o644); err != nil {
		t.Fatal(err)
	}
	git(t, dir, "commit", "-q", "-am", "app")
	if got := diff(t, dir, tmp, "--scenarios-only"); got != "cloudconfig\n" {
		t.Errorf("against the merge-base with origin/main: %q, want cloudconfig", got)
	}
	if got := diff(t, dir, tmp, "--base", "HEAD", "--scenarios-only"); got != "\n" {
		t.Errorf("--base HEAD: %q, want none", got)
	}
	var out bytes.Buffer
	if err := runDiff(context.Background(), []string{"--base", "nope"}, dir, &out); err == nil || !strings.Contains(err.Error(), `--base "nope" is not a commit`) {
		t.Errorf("--base nope: %v", err)
	}
	if err := runDiff(context.Background(), []string{"--format", "html"}, dir, &out); err == nil {
		t.Error("--format html was taken")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := runDiff(ctx, []string{"--base", "HEAD"}, dir, &out); err == nil {
		t.Error("e2e diff went on after a stop")
	}
	if left, _ := os.ReadDir(tmp); len(left) > 0 {
		t.Errorf("a stopped e2e diff or a refused base left %v in TMPDIR", left)
	}
}
