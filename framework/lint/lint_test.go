package lint_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/drivelab/drivelab/framework/lint"
	"github.com/drivelab/drivelab/framework/render"
	"github.com/drivelab/drivelab/framework/topology"
)

const templatesDir = "../../fixtures/templates"

func run(t *testing.T, flavor, overlay string) lint.Report {
	t.Helper()
	topo, err := topology.Load("../../fixtures/topology.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return lint.Run(context.Background(), render.Input{Topology: topo, TemplatesDir: templatesDir, Flavor: flavor, Overlay: overlay})
}

func haveHAProxy() bool { // as lint looks for it
	_, err := exec.LookPath("haproxy")
	_, errSbin := exec.LookPath("/usr/sbin/haproxy")
	return err == nil || errSbin == nil
}

func TestReferenceFlavorsAreClean(t *testing.T) {
	for _, flavor := range []string{"centos7", "debian12"} {
		t.Run(flavor, func(t *testing.T) {
			r := run(t, flavor, "")
			if err := r.Err(); err != nil {
				t.Fatal(err)
			}
			if haveHAProxy() && len(r.Skipped) != 0 {
				t.Errorf("skipped with haproxy on PATH: %v", r.Skipped)
			}
			if !haveHAProxy() && len(r.Skipped) == 0 {
				t.Error("haproxy -c cannot have run, yet nothing is reported skipped")
			}
		})
	}
}

// overlay writes one template into a fresh overlay directory: the flavor's own
// template with the line `old` replaced by `new` (or appended when old is ""),
// and returns the directory and the line number holding `new`.
func overlay(t *testing.T, flavor, name, target, old, new string) (string, int) {
	t.Helper()
	src, err := os.ReadFile(filepath.Join(templatesDir, flavor, filepath.Base(name)))
	if err != nil {
		t.Fatal(err)
	}
	text := string(src)
	if !strings.Contains(text, old) {
		t.Fatalf("%s has no %q", name, old)
	}
	text = strings.Replace(text, old, new, 1)
	dir := t.TempDir()
	p := filepath.Join(dir, target)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	first := strings.Split(new, "\n")[0]
	line := 0
	for i, l := range strings.Split(text, "\n") {
		if strings.Contains(l, first) {
			line = i + 1
			break
		}
	}
	return dir, line
}

// Each broken input is caught with a message naming node, file and line.
func TestLintNamesTheCulprit(t *testing.T) {
	type want struct {
		node string
		file string // relative to the overlay; "" when the problem names no file
		line bool   // the problem names the line of the change
		msg  string
	}
	cases := []struct {
		name, flavor, template, target, old, new string
		want                                     []want
		needsHAProxy                             bool
	}{
		{
			name: "unknown template key", flavor: "debian12", template: "index.html.tmpl", target: "index.html.tmpl",
			old: "Greetings from {{.Node.FQDN}} !", new: "Greetings from {{.Node.Domain}} !",
			want: []want{{"web01", "index.html.tmpl", true, "can't evaluate field Domain"}, {"web02", "index.html.tmpl", true, "can't evaluate field Domain"}},
		},
		{
			name: "hosts file differs on one node", flavor: "debian12", template: "hosts.tmpl", target: "nodes/web02/hosts.tmpl",
			old: "127.0.0.1   localhost", new: "127.0.0.1   localhost web02",
			want: []want{{"web02", "nodes/web02/hosts.tmpl", true, `/etc/hosts differs from the one nodes test2, haproxy, web01 carry, at line 1: "127.0.0.1   localhost web02" instead of "127.0.0.1   localhost"`}},
		},
		{
			name: "hosts file misses a node", flavor: "centos7", template: "hosts.tmpl", target: "hosts.tmpl",
			old: "{{range .Nodes}}", new: `{{range .NodesWithRole "web"}}`,
			want: []want{{"test2", "hosts.tmpl", false, "/etc/hosts does not list node haproxy (192.168.100.26 haproxy.cloud.org)"}},
		},
		{
			name: "haproxy.cfg syntax error", flavor: "debian12", template: "haproxy.cfg.tmpl", target: "haproxy.cfg.tmpl",
			old: "    user haproxy", new: "    mode 0666 level user",
			want:         []want{{"haproxy", "haproxy.cfg.tmpl", true, "haproxy -c alert: unknown keyword 'mode' in 'global' section"}},
			needsHAProxy: true,
		},
		{
			name: "seed's bind without port", flavor: "centos7", template: "haproxy.cfg.tmpl", target: "haproxy.cfg.tmpl",
			old: "   bind haproxy.cloud.org:80", new: "   bind haproxy.cloud.org",
			want:         []want{{"haproxy", "haproxy.cfg.tmpl", true, "missing port specification in '192.168.100.26'"}},
			needsHAProxy: true,
		},
		{
			name: "backend misses a web node", flavor: "debian12", template: "haproxy.cfg.tmpl", target: "haproxy.cfg.tmpl",
			old: `{{- range .NodesWithRole "web"}}`, new: "    server other 192.168.100.99:80\n{{- range slice (.NodesWithRole \"web\") 1}}",
			want: []want{
				{"haproxy", "haproxy.cfg.tmpl", true, "server other points at 192.168.100.99, which is not a node of role web (web01.cloud.org, web02.cloud.org)"},
				{"haproxy", "haproxy.cfg.tmpl", false, "backend web has no server for node web01 (web01.cloud.org); add one"},
			},
		},
		{
			name: "server line from a range", flavor: "debian12", template: "haproxy.cfg.tmpl", target: "haproxy.cfg.tmpl",
			old: "{{.FQDN}}:80 check", new: "{{.FQDN}}:8080 check",
			want: []want{{"haproxy", "haproxy.cfg.tmpl", true, "server web02 uses port 8080; the web nodes serve on 80"}},
		},
		{
			name: "backend balance", flavor: "centos7", template: "haproxy.cfg.tmpl", target: "haproxy.cfg.tmpl",
			old: "   balance leastconn", new: "   balance roundrobin",
			want: []want{{"haproxy", "haproxy.cfg.tmpl", true, "backend 8f09dbaf-0c78-48f1-8b80-662e75036485 balances with roundrobin; the topology balances with leastconn"}},
		},
		{
			name: "invalid JSON", flavor: "debian12", template: "network_data.json.tmpl", target: "network_data.json.tmpl",
			old: `"gateway": {{json .Network.Gateway}}`, new: `"gateway": {{json .Network.Gateway}},`,
			want: []want{{"test2", "network_data.json.tmpl", false, "openstack/latest/network_data.json is not valid JSON: invalid character '}'"}},
		},
		{
			name: "network_data for another NIC", flavor: "debian12", template: "network_data.json.tmpl", target: "nodes/web01/network_data.json.tmpl",
			old: `"ethernet_mac_address": {{json .Node.MAC}}`, new: `"ethernet_mac_address": "52:54:00:64:00:1c"`,
			want: []want{{"web01", "nodes/web01/network_data.json.tmpl", false, `link "eth0" has MAC 52:54:00:64:00:1c but the node's NIC is 52:54:00:64:00:1b`}},
		},
		{
			name: "user_data shell syntax", flavor: "debian12", template: "user_data.web.tmpl", target: "user_data.web.tmpl",
			old: `tar xzf {{.Path "httpd-package"}} -C "$bundle"`, new: `tar xzf {{.Path "httpd-package"}} -C "$bundle`,
			want: []want{{"web01", "user_data.web.tmpl", false, "bash -n: unexpected EOF while looking for matching `\"'"}},
		},
		{
			name: "user_data without interpreter", flavor: "debian12", template: "user_data.client.tmpl", target: "user_data.client.tmpl",
			old: "#!/bin/bash", new: "set -x",
			want: []want{{"test2", "user_data.client.tmpl", true, `user_data starts with "set -x"`}},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.needsHAProxy && !haveHAProxy() {
				t.Skip("haproxy is not on PATH; make test installs it")
			}
			dir, line := overlay(t, c.flavor, c.template, c.target, c.old, c.new)
			r := run(t, c.flavor, dir)
			if r.Err() == nil {
				t.Fatal("lint found no problem")
			}
			for _, w := range c.want {
				prefix := "node " + w.node + ": "
				if w.file != "" {
					prefix += filepath.Join(dir, w.file)
				}
				if w.line {
					prefix += fmt.Sprintf(":%d: ", line)
				}
				found := false
				for _, p := range r.Problems {
					if strings.HasPrefix(p.String(), prefix) && strings.Contains(p.String(), w.msg) {
						found = true
					}
				}
				if !found {
					t.Errorf("no problem starting %q and containing %q in:\n%v", prefix, w.msg, r.Err())
				}
			}
			for _, p := range r.Problems {
				if c.name == "hosts file differs on one node" && p.Node != "web02" {
					t.Errorf("blames %s, which carries the common hosts file: %s", p.Node, p)
				}
			}
		})
	}
}
