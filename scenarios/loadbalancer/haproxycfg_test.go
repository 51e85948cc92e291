package loadbalancer

import (
	"slices"
	"strings"
	"testing"
)

// The one reader of haproxy.cfg: sections in order, what a defaults
// section hands on, servers' options, stats sockets wherever they stand,
// and comments dropped.
func TestParseHaproxyConfig(t *testing.T) {
	cfg := strings.Join([]string{
		"stats socket /tmp/early", // 1: before any section
		"global",
		"    stats socket /tmp/sock mode 0666 level user # the harness reads it",
		"defaults",
		"    balance leastconn",
		"    default-server check weight 0",
		"    tcp-check connect port 8081",
		"frontend www",
		"    bind haproxy.cloud.org:80,:::80 v6only",
		"    use_backend other",
		"    default_backend web",
		"    use_backend third",
		"backend web",
		"    default-server weight 50",
		"    server web01 web01.cloud.org:80 no-check addr 192.168.100.27 # port 8080",
		"    server web02 web02.cloud.org:80 disabled port 8080",
		"backend empty",
	}, "\n")
	hc := parseHaproxyConfig([]byte(cfg))

	var kinds []string
	for _, s := range hc.Sections {
		kinds = append(kinds, s.Kind+" "+s.Name)
	}
	if want := []string{" ", "global ", "defaults ", "frontend www", "backend web", "backend empty"}; !slices.Equal(kinds, want) {
		t.Fatalf("sections %q, want %q", kinds, want)
	}
	if got := hc.StatsSockets; len(got) != 2 || got[0] != (statsSocket{Path: "/tmp/early", Line: 1}) || got[1] != (statsSocket{Path: "/tmp/sock", Line: 3, InGlobal: true}) {
		t.Errorf("stats sockets %+v", got)
	}
	if got := hc.socketPaths(); !slices.Equal(got, []string{"/tmp/early", "/tmp/sock"}) {
		t.Errorf("socket paths %q", got)
	}

	www := hc.Sections[3]
	if www.Line != 8 || len(www.Binds) != 2 || www.Binds[1] != (haproxyBind{Addr: ":::80", V6Only: true, Line: 9}) {
		t.Errorf("binds %+v", www.Binds)
	}
	if www.Backend != "web" || www.BackendLine != 11 {
		t.Errorf("backend %s at line %d, want default_backend web at 11", www.Backend, www.BackendLine)
	}

	web := hc.Sections[4]
	if web.Balance != "" || web.DefaultsBalance != "leastconn" || web.CheckPort != "8081" || web.CheckLine != 7 {
		t.Errorf("web inherits balance %q (own %q), connect port %s at line %d", web.DefaultsBalance, web.Balance, web.CheckPort, web.CheckLine)
	}
	want := []haproxyServer{
		{Name: "web01", Addr: "web01.cloud.org:80", Line: 15, Weight: "50", CheckAddr: "192.168.100.27"},
		{Name: "web02", Addr: "web02.cloud.org:80", Line: 16, Disabled: true, Check: true, Weight: "50", CheckPort: "8080"},
	}
	if !slices.Equal(web.Servers, want) || !slices.Equal(hc.servers(), want) {
		t.Errorf("servers %+v, want %+v", web.Servers, want)
	}
	if !hc.backendHasServers("web") || hc.backendHasServers("empty") || hc.backendHasServers("www") {
		t.Error("backendHasServers: want web alone")
	}

	// A field replaced in place leaves the rest of its line as written.
	line := hc.Lines[14]
	if got := line.replaced(func(k int, f string) string { return strings.ToUpper(f) }); got != "    SERVER WEB01 WEB01.CLOUD.ORG:80 NO-CHECK ADDR 192.168.100.27 # port 8080" {
		t.Errorf("replaced: %q", got)
	}
	if len(hc.Lines) != 17 || hc.Lines[16].Text != "backend empty" {
		t.Errorf("%d lines; want every line of the file", len(hc.Lines))
	}
}
