package loadbalancer

import (
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/drivelab/drivelab/framework/harness/linttest"
	"github.com/drivelab/drivelab/framework/render"
	"github.com/drivelab/drivelab/framework/testenv"
)

// The load balancer's lint rules, on the drives as a boot renders them.

func haveHAProxy() bool { // as LintHAProxy looks for it
	_, err := exec.LookPath("haproxy")
	_, errSbin := exec.LookPath("/usr/sbin/haproxy")
	return err == nil || errSbin == nil
}

func TestLoadBalancerLintPassesTheReference(t *testing.T) {
	for _, flavor := range []string{"centos7", "debian12"} {
		t.Run(flavor, func(t *testing.T) {
			haproxy := testenv.Have(t, haveHAProxy(), "haproxy is not installed: haproxy -c is left out")
			r, _ := linttest.Run(t, linttest.Case{Root: root, Flavor: flavor, Rules: LintRules})
			if err := r.Err(); err != nil {
				t.Fatal(err)
			}
			skipped := strings.Join(r.Skipped, "\n")
			if haproxy == strings.Contains(skipped, "haproxy -c") {
				t.Errorf("haproxy on PATH: %v, yet skipped: %q", haproxy, skipped)
			}
		})
	}
}

// Each fault of haproxy.cfg or a web page is caught on its node, naming
// the template and, where it can, the line.
func TestLoadBalancerLintNamesTheCulprit(t *testing.T) {
	cases := []struct {
		name, flavor, template, target, old, new string
		line                                     bool // the problem names the line of new
		msg                                      string
		needsHAProxy                             bool
	}{
		{
			name: "haproxy.cfg syntax error", flavor: "debian12", template: "haproxy.cfg.tmpl", target: "haproxy.cfg.tmpl",
			old: "    user haproxy", new: "    mode 0666 level user", line: true,
			msg: "haproxy -c alert: unknown keyword 'mode' in 'global' section", needsHAProxy: true,
		},
		{
			name: "seed's bind without port", flavor: "centos7", template: "haproxy.cfg.tmpl", target: "haproxy.cfg.tmpl",
			old: "   bind haproxy.cloud.org:80", new: "   bind haproxy.cloud.org", line: true,
			msg: "missing port specification in '192.168.100.26'", needsHAProxy: true,
		},
		{
			name: "backend points at another host", flavor: "debian12", template: "haproxy.cfg.tmpl", target: "haproxy.cfg.tmpl",
			old: `{{- range .NodesWithRole "web"}}`, new: "    server other 192.168.100.99:80\n{{- range slice (.NodesWithRole \"web\") 1}}", line: true,
			msg: "server other points at 192.168.100.99, which is not a node of role web (web01.cloud.org, web02.cloud.org)",
		},
		{
			name: "backend misses a web node", flavor: "debian12", template: "haproxy.cfg.tmpl", target: "haproxy.cfg.tmpl",
			old: `{{- range .NodesWithRole "web"}}`, new: "{{- range slice (.NodesWithRole \"web\") 1}}",
			msg: "backend web has no server for node web01 (web01.cloud.org); add one",
		},
		{
			name: "server line from a range", flavor: "debian12", template: "haproxy.cfg.tmpl", target: "haproxy.cfg.tmpl",
			old: "{{.FQDN}}:80 check", new: "{{.FQDN}}:8080 check", line: true,
			msg: "server web02 uses port 8080; the web nodes serve on 80",
		},
		{
			name: "backend balance", flavor: "centos7", template: "haproxy.cfg.tmpl", target: "haproxy.cfg.tmpl",
			old: "   balance leastconn", new: "   balance roundrobin", line: true,
			msg: "backend 8f09dbaf-0c78-48f1-8b80-662e75036485 balances with roundrobin; the topology balances with leastconn",
		},
		{
			name: "frontend on another port", flavor: "debian12", template: "haproxy.cfg.tmpl", target: "haproxy.cfg.tmpl",
			old: "bind {{.Node.FQDN}}:80", new: "bind {{.Node.FQDN}}:8080", line: true,
			msg: "no frontend listens on port 80 of haproxy.cloud.org (192.168.100.26)",
		},
		{
			name: "no stats socket", flavor: "centos7", template: "haproxy.cfg.tmpl", target: "haproxy.cfg.tmpl",
			old: "   stats socket /tmp/sock mode 0666 level user\n", new: "",
			msg: "no `stats socket` in global; the leastconn and failover checks read per-server counters from it",
		},
		{
			name: "frontend sends to an empty backend", flavor: "debian12", template: "haproxy.cfg.tmpl", target: "haproxy.cfg.tmpl",
			old: "default_backend web", new: "default_backend static\n\nbackend static\n    mode http", line: true,
			msg: "frontend www sends requests to backend static, which has no servers",
		},
		{
			name: "page names another node", flavor: "debian12", template: "index.html.tmpl", target: "nodes/web02/index.html.tmpl",
			old: "Greetings from {{.Node.FQDN}} !", new: "Greetings from web01.cloud.org !", line: true,
			msg: "the page names web01.cloud.org; it must name web02.cloud.org only",
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel() // each case waits mostly on Python and haproxy
			if c.needsHAProxy {
				testenv.Need(t, haveHAProxy(), "haproxy is not installed")
			}
			text := linttest.Template(t, root, c.flavor, c.template, c.old, c.new)
			r, dir := linttest.Run(t, linttest.Case{Root: root, Flavor: c.flavor, Files: map[string]string{c.target: text}, Rules: LintRules})
			node := "haproxy"
			if c.template == "index.html.tmpl" {
				node = "web02"
			}
			prefix := "node " + node + ": " + filepath.Join(dir, c.target)
			if c.line {
				prefix += ":" + strconv.Itoa(render.LineOf([]byte(text), strings.Split(c.new, "\n")[0])) + ": "
			}
			if ok, all := linttest.Find(r.Errors(), prefix, c.msg); !ok {
				t.Errorf("no problem starting %q and containing %q in:\n%s", prefix, c.msg, all)
			}
		})
	}
}

// Without the scenario's rules, lint knows nothing of haproxy or web pages:
// a roundrobin backend and a page naming another node pass it.
func TestLintAloneKnowsNoLoadBalancer(t *testing.T) {
	files := map[string]string{
		"haproxy.cfg.tmpl":            linttest.Template(t, root, "centos7", "haproxy.cfg.tmpl", "   balance leastconn", "   balance roundrobin"),
		"nodes/web02/index.html.tmpl": "Greetings from web01.cloud.org !\n",
	}
	if r, _ := linttest.Run(t, linttest.Case{Root: root, Flavor: "centos7", Files: files}); r.Err() != nil {
		t.Errorf("lint's own rules caught a fault only the scenario knows: %v", r.Err())
	}
	if r, _ := linttest.Run(t, linttest.Case{Root: root, Flavor: "centos7", Files: files, Rules: LintRules}); len(r.Errors()) != 2 {
		t.Errorf("the scenario's rules should catch both faults: %v", r.Err())
	}
}
