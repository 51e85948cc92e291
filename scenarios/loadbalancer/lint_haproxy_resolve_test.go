package loadbalancer

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/drivelab/drivelab/framework/harness/linttest"
	"github.com/drivelab/drivelab/framework/lint"
	"github.com/drivelab/drivelab/framework/render"
)

// haproxy -c on the host sees the addresses the guest's hosts file gives
// the names at address positions, and every other word as it was.
func TestResolvedOnlyAtAddresses(t *testing.T) {
	hosts := lint.HostsOf(render.Drive{Content: []render.Content{{GuestPath: "/etc/hosts", Data: []byte(
		"127.0.0.1 localhost\n192.168.100.26 haproxy.cloud.org haproxy\n192.168.100.27 web01.cloud.org web01\n192.168.100.27 web01-again\n192.168.100.99 WEB02\n")}}})
	cfg := strings.Join([]string{
		"global",
		"    user haproxy # haproxy stays a user",
		"    group haproxy",
		"frontend www",
		"    bind haproxy:80,ipv4@haproxy.cloud.org:8080 # bind haproxy",
		"backend web",
		"    server web01 web01:80 check addr web01.cloud.org port 80",
		"    server web02 web02 check",
		"    server web03 unknown.cloud.org:80",
	}, "\n")
	want := strings.Join([]string{
		"global",
		"    user haproxy # haproxy stays a user",
		"    group haproxy",
		"frontend www",
		"    bind 192.168.100.26:80,ipv4@192.168.100.26:8080 # bind haproxy",
		"backend web",
		"    server web01 192.168.100.27:80 check addr 192.168.100.27 port 80",
		"    server web02 192.168.100.99 check",
		"    server web03 unknown.cloud.org:80",
	}, "\n")
	if got := string(resolved(hosts, parseHaproxyConfig([]byte(cfg)))); got != want {
		t.Errorf("resolved:\n%s\nwant:\n%s", got, want)
	}
	if ip, ok := hosts.Lookup("WEB01.cloud.org"); !ok || ip != netip.MustParseAddr("192.168.100.27") {
		t.Errorf("Lookup ignores case as glibc does: %v %v", ip, ok)
	}
	if _, ok := hosts.Lookup("web03"); ok {
		t.Error("web03 is not in the hosts file, yet resolves")
	}
}

// default-server and check settings of a defaults section reach the
// backends after it; a server's own setting wins over them.
func TestServerStateFromDefaults(t *testing.T) {
	for _, c := range []struct {
		name, old, new, want string
	}{
		{"disabled in defaults", "    timeout server 50s", "    timeout server 50s\n    default-server disabled", "is `disabled`"},
		{"disabled in defaults, enabled by the server", "    timeout server 50s", "    timeout server 50s\n    default-server disabled", ""},
		{"tcp-check connect port in defaults", "    timeout server 50s", "    timeout server 50s\n    tcp-check connect port 8081", "health-checked on port 8081 (`connect port 8081`)"},
		{"weight 0 in defaults", "    timeout server 50s", "    timeout server 50s\n    default-server weight 0", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			text := linttest.Template(t, root, "debian12", "haproxy.cfg.tmpl", c.old, c.new)
			if c.want == "" {
				// The servers set their own state, which wins.
				text = strings.Replace(text, "weight 100", "weight 100 enabled", 1)
			}
			r, _ := linttest.Run(t, linttest.Case{Root: root, Flavor: "debian12", Files: map[string]string{"haproxy.cfg.tmpl": text}, Rules: []lint.Rule{LintHAProxy}})
			err := r.Err()
			switch {
			case c.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
				t.Fatalf("error %v, want %q", err, c.want)
			}
		})
	}
}
