package main

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/drivelab/drivelab/framework/configdrive"
	"github.com/drivelab/drivelab/framework/profile"
	"github.com/drivelab/drivelab/framework/testenv"
)

// e2e builds the command once per test binary.
func e2e(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "e2e")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// runE2E runs the command from the repository root, as make does.
func runE2E(t *testing.T, bin string, args ...string) (string, int) {
	t.Helper()
	return runE2EEnv(t, bin, nil, args...)
}

// runTimeout bounds one command of a test: every input, however broken,
// must end the command well within it (a FIFO once blocked it for ever).
const runTimeout = 2 * time.Minute

// runE2EEnv is runE2E with env ("NAME=value") added to the environment.
func runE2EEnv(t *testing.T, bin string, env []string, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = "../.."
	// A runner's caps would let oversized nodes of fixtures/bad through.
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, "E2E_MAX_") {
			cmd.Env = append(cmd.Env, e)
		}
	}
	cmd.Env = append(cmd.Env, env...)
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	switch {
	case ctx.Err() != nil:
		t.Fatalf("e2e %s still running after %v:\n%s", strings.Join(args, " "), runTimeout, out)
		return "", 0
	case err == nil:
		return string(out), 0
	case errors.As(err, &exit):
		return string(out), exit.ExitCode()
	default:
		t.Fatal(err)
		return "", 0
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// `e2e lint` exits 1 on each broken input, naming the culprit.
func TestLintExitsNonZeroNamingTheCulprit(t *testing.T) {
	bin := e2e(t)
	if out, code := runE2E(t, bin, "lint", "--flavor", "debian12"); code != 0 {
		t.Fatalf("the reference topology fails lint (exit %d):\n%s", code, out)
	}
	topo, err := os.ReadFile("../../fixtures/topology.yaml")
	if err != nil {
		t.Fatal(err)
	}
	haproxyTmpl, err := os.ReadFile("../../fixtures/templates/debian12/haproxy.cfg.tmpl")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	dupIP := filepath.Join(dir, "dup-ip.yaml")
	writeFile(t, dupIP, strings.Replace(string(topo), "ip: 192.168.100.28", "ip: 192.168.100.27", 1))
	writeFile(t, filepath.Join(dir, "unknown-key", "index.html.tmpl"), "Greetings from {{.Node.Fqdn}} !\n")
	writeFile(t, filepath.Join(dir, "haproxy-syntax", "haproxy.cfg.tmpl"),
		strings.Replace(string(haproxyTmpl), "    bind {{.Node.FQDN}}:80", "    bind {{.Node.FQDN}}", 1))
	writeFile(t, filepath.Join(dir, "hosts-differ", "nodes", "web01", "hosts.tmpl"), "127.0.0.1 localhost\n{{range .Nodes}}{{.IP}} {{.FQDN}}\n{{end}}")

	cases := map[string]struct {
		args []string
		want []string
	}{
		"duplicated IP": {[]string{"--topology", dupIP},
			[]string{`node "web02": ip 192.168.100.27 is already used by node "web01"`}},
		"unknown template key": {[]string{"--overlay", filepath.Join(dir, "unknown-key")},
			[]string{"node web01: " + filepath.Join(dir, "unknown-key", "index.html.tmpl") + ":1: ", "can't evaluate field Fqdn"}},
		"haproxy.cfg syntax error": {[]string{"--overlay", filepath.Join(dir, "haproxy-syntax")},
			[]string{"node haproxy: " + filepath.Join(dir, "haproxy-syntax", "haproxy.cfg.tmpl") + ":", "missing port specification"}},
		"hosts file differs on one node": {[]string{"--overlay", filepath.Join(dir, "hosts-differ")},
			[]string{"node web01: " + filepath.Join(dir, "hosts-differ", "nodes", "web01", "hosts.tmpl") + ":1: /etc/hosts differs from the one nodes test2, haproxy, web02 carry"}},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			if name == "haproxy.cfg syntax error" {
				if _, err := exec.LookPath("/usr/sbin/haproxy"); err != nil {
					testenv.Need(t, false, "haproxy is not in /usr/sbin: %v", err)
				}
			}
			out, code := runE2E(t, bin, append([]string{"lint", "--flavor", "debian12"}, c.args...)...)
			if code != 1 {
				t.Errorf("exit %d, want 1:\n%s", code, out)
			}
			for _, w := range c.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
		})
	}
}

func TestDrivesWritesImagesAndManifest(t *testing.T) {
	bin := e2e(t)
	pkgs, out := t.TempDir(), filepath.Join(t.TempDir(), "drives")
	if msg, code := runE2E(t, bin, "drives", "--flavor", "centos7", "--out", out); code != 1 || !strings.Contains(msg, "--packages is required: the folder holding haproxy.rpm and httpd.tar.gz for flavor centos7") {
		t.Errorf("centos7 without --packages: exit %d:\n%s", code, msg)
	}
	for _, f := range []string{"haproxy.tar.gz", "apache2.tar.gz"} {
		writeFile(t, filepath.Join(pkgs, f), "placeholder "+f+"\n")
	}
	if msg, code := runE2E(t, bin, "drives", "--flavor", "debian12", "--packages", pkgs, "--out", out); code != 0 {
		t.Fatalf("exit %d:\n%s", code, msg)
	}
	var manifest []configdrive.ManifestEntry
	data, err := os.ReadFile(filepath.Join(out, configdrive.ManifestFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &manifest); err != nil {
		t.Fatal(err)
	}
	perNode := map[string]int{}
	for _, e := range manifest {
		perNode[e.Node]++
		if e.SHA256 == "" || e.Path == "" {
			t.Errorf("incomplete entry %+v", e)
		}
	}
	// meta_data, user_data, vendor_data, network_data + contents
	want := map[string]int{"test2": 5, "haproxy": 7, "web01": 7, "web02": 7}
	for node, n := range want {
		if perNode[node] != n {
			t.Errorf("%s: %d files in the manifest, want %d", node, perNode[node], n)
		}
		if _, err := os.Stat(filepath.Join(out, node+".iso")); err != nil {
			t.Error(err)
		}
	}
}

func TestProfileReport(t *testing.T) {
	p := &profile.Profile{Nodes: []profile.Node{{Name: "web01",
		Stages:   []profile.Span{{Name: "systemd", StartS: 30, DurationS: 56}, {Name: "cloud-init:final", StartS: 150, DurationS: 129}},
		UserData: []profile.Span{{Name: "Enabling site 000-default.", DurationS: 24.4}}}}}
	got := profileReport(p)
	for _, want := range []string{"web01  cloud-init:final  150.0s  129.0s", "costliest stage 1: web01 cloud-init:final 129.0s", "web01: slowest user_data step 24.4s: Enabling site 000-default."} {
		if !strings.Contains(got, want) {
			t.Errorf("report lacks %q:\n%s", want, got)
		}
	}
}
