package lint_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/drivelab/drivelab/framework/harness/linttest"
	"github.com/drivelab/drivelab/framework/lint"
	"github.com/drivelab/drivelab/framework/render"
	"github.com/drivelab/drivelab/framework/testenv"
	"github.com/drivelab/drivelab/framework/topology"
)

const root = "../.."

func run(t *testing.T, flavor string, files map[string]string, rules ...lint.Rule) (lint.Report, string) {
	t.Helper()
	return linttest.Run(t, linttest.Case{Root: root, Flavor: flavor, Files: files, Rules: rules})
}

func TestReferenceFlavorsAreClean(t *testing.T) {
	for _, flavor := range []string{"centos7", "debian12", "debian12-nova"} {
		t.Run(flavor, func(t *testing.T) {
			cloudInit := testenv.Have(t, haveCloudInit(), "Debian's cloud-init is not importable from %s: the schema check is left out", lint.SystemPython)
			r, _ := run(t, flavor, nil)
			if err := r.Err(); err != nil {
				t.Fatal(err)
			}
			// The harness's own vendor_data, keys and all, passes the schema too.
			if cloudInit && (len(r.Skipped) != 0 || len(r.Warnings()) != 0) {
				t.Errorf("with cloud-init: skipped %v, warnings %v", r.Skipped, r.Warnings())
			}
			if !cloudInit && len(r.Skipped) == 0 {
				t.Error("cloud-init cannot have run, yet nothing is reported skipped")
			}
		})
	}
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
			name: "invalid JSON", flavor: "debian12", template: "network_data.json.tmpl", target: "network_data.json.tmpl",
			old: `"gateway": {{json $s.Gateway}}`, new: `"gateway": {{json $s.Gateway}},`,
			want: []want{{"test2", "network_data.json.tmpl", false, "openstack/latest/network_data.json is not valid JSON: invalid character '}'"}},
		},
		{
			// configdrive.Check's typed error, located at the template line.
			name: "network_data for another NIC", flavor: "debian12", template: "network_data.json.tmpl", target: "nodes/web01/network_data.json.tmpl",
			old: `"ethernet_mac_address": {{json $c.HWAddr}}`, new: `"ethernet_mac_address": "52:54:00:64:00:1c"`,
			want: []want{{"web01", "nodes/web01/network_data.json.tmpl", true, `link "eth0" has MAC 52:54:00:64:00:1c but the node's NIC is 52:54:00:64:00:1b`}},
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
			text := linttest.Template(t, root, c.flavor, c.template, c.old, c.new)
			line := render.LineOf([]byte(text), strings.Split(c.new, "\n")[0])
			r, dir := run(t, c.flavor, map[string]string{c.target: text})
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
				if ok, all := linttest.Find(r.Errors(), prefix, w.msg); !ok {
					t.Errorf("no problem starting %q and containing %q in:\n%s", prefix, w.msg, all)
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

// A scenario's rules see every drive and report like lint's own; a message
// quoting vendor_data never carries a line of the host key it holds.
func TestRulesReportAndKeysNeverLeak(t *testing.T) {
	var seen []string
	var keyLines []string
	quote := func(_ context.Context, p *lint.Pass) {
		for _, d := range p.Drives {
			seen = append(seen, d.Node.Name)
			keyLines = append(keyLines, privateKeyLines(t, d.VendorData)...)
			p.Reportf(d, render.VendorDataPath, 0, "vendor_data reads %s", d.VendorData)
		}
	}
	r, _ := run(t, "debian12", nil, quote)
	if strings.Join(seen, ",") != "test2,haproxy,web01,web02" || len(keyLines) < 4 {
		t.Fatalf("the rule saw %v, %d key lines", seen, len(keyLines))
	}
	errs := r.Errors()
	if len(errs) != 4 || errs[0].Node != "test2" || errs[0].File != render.VendorDataPath {
		t.Fatalf("want one problem per node, in vendor_data: %v", r.Err())
	}
	for _, p := range errs {
		if !strings.Contains(p.Message, render.RedactedKey) {
			t.Errorf("node %s: no redaction in %s", p.Node, p.Message)
		}
		for _, l := range keyLines {
			if strings.Contains(p.Message, l) {
				t.Errorf("node %s: key line %q left in the message", p.Node, l)
			}
		}
	}
}

// privateKeyLines are the lines of the host private key in vendor_data.json.
func privateKeyLines(t *testing.T, vendorData []byte) []string {
	var v map[string]string
	if err := json.Unmarshal(vendorData, &v); err != nil {
		t.Fatal(err)
	}
	_, key, _ := strings.Cut(v["cloud-init"], "BEGIN OPENSSH PRIVATE KEY-----")
	key, _, _ = strings.Cut(key, "-----END")
	return strings.Fields(key)
}

// Problems of a broken template are typed: node, file and line are fields,
// not text to cut out of a message.
func TestProblemsAreTyped(t *testing.T) {
	text := linttest.Template(t, root, "debian12", "index.html.tmpl", "Greetings from {{.Node.FQDN}} !", "Greetings from\n{{.Node.Fqdn}} !")
	r, dir := run(t, "debian12", map[string]string{"nodes/web02/index.html.tmpl": text})
	want := lint.Problem{Node: "web02", File: filepath.Join(dir, "nodes/web02/index.html.tmpl"), Line: render.LineOf([]byte(text), "{{.Node.Fqdn}}")}
	errs := r.Errors()
	if len(errs) != 1 || errs[0].Node != want.Node || errs[0].File != want.File || errs[0].Line != want.Line || want.Line < 2 ||
		!strings.Contains(errs[0].Message, "can't evaluate field Fqdn") || errs[0].Severity != lint.SeverityError {
		t.Fatalf("got %+v\nwant one problem at %s:%d on node %s", errs, want.File, want.Line, want.Node)
	}
	if err := r.Err(); err == nil || !strings.Contains(err.Error(), fmt.Sprintf("1 problem(s):\nnode web02: %s:%d: ", want.File, want.Line)) {
		t.Errorf("Err() = %v", err)
	}
}

// A render error alone, with nothing rendered, is a problem too.
func TestRenderErrorWithoutDrives(t *testing.T) {
	topo, err := topology.Load(root + "/fixtures/topology.yaml")
	if err != nil {
		t.Fatal(err)
	}
	res, rerr := render.Render(context.Background(), render.Input{Topology: topo, TemplatesDir: root + "/fixtures/templates", Flavor: "nosuch"})
	r := lint.Run(context.Background(), lint.Input{Rendered: res, RenderErr: rerr})
	if err := r.Err(); err == nil || !strings.Contains(err.Error(), `flavor "nosuch"`) || len(res.Drives) != 0 {
		t.Fatalf("Err() = %v", err)
	}
}

// haveCloudInit is true when Debian's cloud-init is importable, as lint runs it.
var haveCloudInit = sync.OnceValue(func() bool {
	return exec.Command(lint.SystemPython, "-c", "import cloudinit.config.schema").Run() == nil
})
