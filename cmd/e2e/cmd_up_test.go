package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/drivelab/drivelab/framework/config"
	"github.com/drivelab/drivelab/framework/harness"
	"github.com/drivelab/drivelab/framework/verify"
	"github.com/drivelab/drivelab/framework/vm"
)

func keptRecord(t *testing.T) *harness.Record {
	t.Helper()
	topo, err := filepath.Abs("../../fixtures/topology.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return &harness.Record{
		Run: "r1", Scenario: "loadbalancer", Topology: topo, Flavor: "debian12",
		Templates: "/repo/fixtures/templates", Overlay: "/tmp/overlay", PackageDir: "/cache/pkgs",
		Image: vm.Image{Disk: "/cache/disk.qcow2", Kernel: "/cache/vmlinuz"}, Created: time.Now(), Updated: time.Now(),
		Nodes: []harness.NodeRecord{{Name: "test2"}, {Name: "haproxy"}, {Name: "web01"}, {Name: "web02"}},
	}
}

// The flags as `e2e up` parses them with no arguments.
var upDefaults = upChoice{Scenario: "loadbalancer", Topology: "fixtures/topology.yaml", Templates: "fixtures/templates", Flavor: "debian12"}

func TestResolveUpWithoutAKeptLab(t *testing.T) {
	got, err := resolveUp(upDefaults, map[string]bool{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got.Topology != "fixtures/topology.yaml" || got.Overlay != "" || got.Flavor != "debian12" {
		t.Errorf("defaults: %+v", got)
	}
	f := upDefaults
	f.Topology, f.Overlay = "/x/topo.yaml", "/x/overlay"
	if got, _ := resolveUp(f, map[string]bool{"topology": true, "overlay": true}, nil); got.Topology != "/x/topo.yaml" || got.Overlay != "/x/overlay" {
		t.Errorf("explicit flags lost: %+v", got)
	}
	f = upDefaults
	f.Scenario = "nosuch"
	if _, err := resolveUp(f, map[string]bool{"scenario": true}, nil); err == nil || !regexp.MustCompile(`scenario "nosuch" is unknown; have .*loadbalancer`).MatchString(err.Error()) {
		t.Errorf("unknown scenario: %v", err)
	}
}

func TestResolveUpOnAKeptLab(t *testing.T) {
	rec := keptRecord(t)
	// No flags: everything as recorded, even where the defaults differ.
	got, err := resolveUp(upDefaults, map[string]bool{}, rec)
	if err != nil {
		t.Fatal(err)
	}
	want := upChoice{Run: "r1", Scenario: "loadbalancer", Topology: rec.Topology, Templates: "/repo/fixtures/templates",
		Flavor: "debian12", Overlay: "/tmp/overlay", Packages: "/cache/pkgs"}
	if got != want {
		t.Errorf("got %+v\nwant %+v", got, want)
	}

	// Templates, overlay and packages may change: the drive digests decide.
	// The same topology given again is no change.
	f := upDefaults
	f.Overlay, f.Templates, f.Topology = "", "other/templates", rec.Topology
	got, err = resolveUp(f, map[string]bool{"overlay": true, "templates": true, "topology": true}, rec)
	if err != nil {
		t.Fatal(err)
	}
	if got.Overlay != "" || !filepath.IsAbs(got.Templates) || !strings.HasSuffix(got.Templates, "other/templates") {
		t.Errorf("--overlay '' --templates other/templates: %+v", got)
	}

	// What a running lab cannot change is refused, naming flag and lab.
	for flag, f := range map[string]upChoice{
		"flavor":   {Flavor: "centos7"},
		"topology": {Topology: "/elsewhere/topology.yaml"},
		"image":    {Image: "/images/centos7.qcow2"},
		"run":      {Run: "r2"},
	} {
		_, err := resolveUp(f, map[string]bool{flag: true}, rec)
		if err == nil || !strings.Contains(err.Error(), "--"+flag+" ") || !strings.Contains(err.Error(), "the kept lab r1 runs "+flag) || !strings.Contains(err.Error(), "e2e down") {
			t.Errorf("--%s: %v", flag, err)
		}
	}
}

func TestSSHArgs(t *testing.T) {
	for _, c := range []struct {
		args []string
		node string
		cmd  []string
	}{
		{[]string{"web01"}, "web01", nil},
		{[]string{"web01", "--", "cat", "/var/www/html/index.html"}, "web01", []string{"cat", "/var/www/html/index.html"}},
		{[]string{"web01", "hostname", "-f"}, "web01", []string{"hostname", "-f"}},
		{[]string{"web01", "--", "--"}, "web01", []string{"--"}},
	} {
		node, cmd, err := sshArgs(c.args)
		if err != nil || node != c.node || !slices.Equal(cmd, c.cmd) {
			t.Errorf("%q: node %q cmd %q err %v", c.args, node, cmd, err)
		}
	}
	for _, args := range [][]string{nil, {"--", "ls"}, {""}} {
		if _, _, err := sshArgs(args); err == nil {
			t.Errorf("%q: no error", args)
		}
	}
}

func TestFocus(t *testing.T) {
	checks := []verify.Check{{Name: "hostname"}, {Name: "hosts"}, {Name: "leastconn"}}
	got, err := focused(checks, regexp.MustCompile("^host"))
	if err != nil || len(got) != 2 || got[0].Name != "hostname" || got[1].Name != "hosts" {
		t.Errorf("^host: %v, %v", got, err)
	}
	if got, _ := focused(checks, regexp.MustCompile("")); len(got) != 3 {
		t.Errorf("empty focus kept %d checks", len(got))
	}
	if _, err := focused(checks, regexp.MustCompile("nosuch")); err == nil || !strings.Contains(err.Error(), "matches no check; have hostname, hosts, leastconn") {
		t.Errorf("nosuch: %v", err)
	}
}

// The loop's commands check their arguments and the kept lab before they
// contact libvirt: these runs need neither a lab nor root.
func TestLoopCommandsRefuseBadInputEarly(t *testing.T) {
	bin := e2e(t)
	state := t.TempDir()
	run := func(args ...string) (string, int) {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Dir = "../.."
		cmd.Env = append(os.Environ(), "E2E_STATE_DIR="+state, "E2E_LIBVIRT_SOCKET=/nonexistent/libvirt-sock")
		out, err := cmd.CombinedOutput()
		if ee, ok := err.(*exec.ExitError); ok {
			return string(out), ee.ExitCode()
		}
		if err != nil {
			t.Fatal(err)
		}
		return string(out), 0
	}
	expect := func(out string, code, wantCode int, want string) {
		t.Helper()
		if code != wantCode || !strings.Contains(out, want) {
			t.Errorf("exit %d (want %d), output lacks %q:\n%s", code, wantCode, want, out)
		}
	}

	out, code := run("up", "extra")
	expect(out, code, 2, `unexpected arguments ["extra"]`)
	out, code = run("check", "extra")
	expect(out, code, 2, `unexpected arguments ["extra"]`)
	out, code = run("ssh")
	expect(out, code, 2, "usage: e2e ssh NODE [-- CMD...]")
	out, code = run("check", "--focus", "[")
	expect(out, code, 1, `--focus "[": error parsing regexp`)
	out, code = run("check")
	expect(out, code, 1, "no kept lab in "+state+": boot one with `e2e up`")
	out, code = run("ssh", "web01", "--", "true")
	expect(out, code, 1, "no kept lab")

	paths := config.Paths{State: state}
	if err := keptRecord(t).Save(paths); err != nil {
		t.Fatal(err)
	}
	if err := harness.SetCurrent(paths, "r1"); err != nil {
		t.Fatal(err)
	}
	out, code = run("ssh", "web03")
	expect(out, code, 1, `"web03" is not a node of kept lab r1 (have test2, haproxy, web01, web02)`)
	out, code = run("check", "--focus", "nosuch")
	expect(out, code, 1, `scenario loadbalancer: --focus "nosuch" matches no check`)
	out, code = run("up", "--flavor", "centos7")
	expect(out, code, 1, "--flavor centos7: the kept lab r1 runs flavor debian12; take it down with `e2e down`")
	// Past the argument checks, the next step is libvirt.
	out, code = run("check", "--focus", "hostname")
	expect(out, code, 1, "libvirtd is not reachable on /nonexistent/libvirt-sock")
}
