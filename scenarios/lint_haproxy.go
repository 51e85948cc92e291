package scenarios

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/drivelab/drivelab/framework/lint"
	"github.com/drivelab/drivelab/framework/render"
	"github.com/drivelab/drivelab/framework/topology"
)

// haproxyBalance is how the load balancer spreads requests over the web
// nodes: the leastconn check counts on it.
const haproxyBalance = "leastconn"

// LintHAProxy is the load balancer's lint rule: the haproxy.cfg a drive
// carries passes `haproxy -c`, balances with leastconn over exactly the
// topology's web nodes on port 80, and has what the checks read (a `stats
// socket`, a frontend on port 80 of the node).
func LintHAProxy(ctx context.Context, p *lint.Pass) {
	for _, d := range p.Drives {
		i := slices.IndexFunc(d.Content, func(c render.Content) bool { return c.Name == haproxyConfigFile })
		if i < 0 {
			continue
		}
		c := d.Content[i]
		drivePath := render.ContentFile(c.ContentPath)
		haproxyBackends(p, d, drivePath, c.Data)
		haproxyFront(p, d, drivePath, c.Data)
		haproxyCheck(ctx, p, d, drivePath, c.Data)
	}
}

// haproxyFront checks what the checks rely on besides the backend: a
// `stats socket` in global (leastconn and failover read per-server counters
// from it) and a frontend or listen section bound to port 80 of the
// node's address that sends its requests to a backend with servers (the
// checks request http://<load balancer FQDN>/ from the client).
func haproxyFront(p *lint.Pass, d render.Drive, drivePath string, cfg []byte) {
	type front struct {
		kind, name string
		line       int
		binds      []string
		bindLine   int
		backend    string
		backLine   int
		servers    bool
	}
	var (
		fronts      []*front
		backends    = map[string]bool{} // name -> has servers
		kind        string
		cur         *front
		socket      bool
		socketWhere int
	)
	for _, ln := range configLines(cfg) {
		i, f := ln.index, ln.fields
		switch {
		case sectionKeywords[f[0]]:
			kind, cur = f[0], nil
			name := ""
			if len(f) > 1 {
				name = f[1]
			}
			switch kind {
			case "frontend", "listen":
				cur = &front{kind: kind, name: name, line: i + 1}
				fronts = append(fronts, cur)
			case "backend":
				backends[name] = backends[name] || false
				cur = &front{kind: kind, name: name}
			}
			continue
		}
		switch {
		case f[0] == "stats" && len(f) >= 3 && f[1] == "socket":
			if kind == "global" {
				socket = true
			} else {
				socketWhere = i + 1
			}
		case cur == nil:
		case f[0] == "bind" && len(f) >= 2 && cur.kind != "backend":
			cur.binds = append(cur.binds, strings.Split(f[1], ",")...)
			cur.bindLine = i + 1
		case (f[0] == "default_backend" || f[0] == "use_backend") && len(f) >= 2 && cur.kind != "backend":
			if cur.backend == "" || f[0] == "default_backend" {
				cur.backend, cur.backLine = f[1], i+1
			}
		case f[0] == "server" && len(f) >= 3:
			if cur.kind == "backend" {
				backends[cur.name] = true
			} else {
				cur.servers = true
			}
		}
	}
	n := d.Node
	if !socket {
		p.Reportf(d, drivePath, socketWhere, "no `stats socket` in global; the leastconn and failover checks read per-server counters from it: add `stats socket /tmp/sock mode 0666 level user` to global")
	}
	for _, fr := range fronts {
		if !slices.ContainsFunc(fr.binds, func(b string) bool { return bindsPort80(b, n) }) {
			continue
		}
		switch {
		case fr.servers:
			return
		case fr.backend == "":
			p.Reportf(d, drivePath, fr.line, "%s %s listens on %s:80 but names no default_backend; the checks' requests would get 503", fr.kind, fr.name, n.FQDN)
			return
		case !backends[fr.backend]:
			p.Reportf(d, drivePath, fr.backLine, "%s %s sends requests to backend %s, which has no servers; send them to the backend of the web nodes", fr.kind, fr.name, fr.backend)
			return
		}
		return
	}
	line := 0
	for _, fr := range fronts {
		if fr.bindLine > 0 {
			line = fr.bindLine
			break
		}
	}
	p.Reportf(d, drivePath, line, "no frontend listens on port 80 of %s (%s); the checks request http://%s/ from the client: bind %s:80", n.FQDN, n.IP, n.FQDN, n.FQDN)
}

// bindsPort80 is true when a bind address accepts connections to the
// node's address on port 80.
func bindsPort80(bind string, n topology.Node) bool {
	i := strings.LastIndexByte(bind, ':')
	if i < 0 || bind[i+1:] != "80" {
		return false
	}
	switch host := strings.Trim(bind[:i], "[]"); host {
	case "", "*", "0.0.0.0", "::", n.FQDN, n.ShortName(), n.IP.String():
		return true
	}
	return false
}

// sectionKeywords start a section of haproxy.cfg.
var sectionKeywords = map[string]bool{
	"global": true, "defaults": true, "frontend": true, "backend": true, "listen": true, "resolvers": true, "peers": true,
	"userlist": true, "program": true, "http-errors": true, "ring": true, "cache": true, "mailers": true,
}

type configLine struct {
	index  int // 0-based line number
	fields []string
}

// configLines are haproxy.cfg's non-empty lines as fields, comments dropped.
func configLines(cfg []byte) []configLine {
	var out []configLine
	for i, line := range strings.Split(string(cfg), "\n") {
		line, _, _ = strings.Cut(line, "#")
		if f := strings.Fields(line); len(f) > 0 {
			out = append(out, configLine{i, f})
		}
	}
	return out
}

// haproxyBackends checks that every backend balances with haproxyBalance
// over exactly the topology's web nodes, on port 80.
func haproxyBackends(p *lint.Pass, d render.Drive, drivePath string, cfg []byte) {
	type server struct {
		name, addr string
		line       int
	}
	type section struct {
		kind, name  string
		line        int
		balance     string
		balanceLine int
		servers     []server
		inherited   string // balance set in the defaults before it
	}
	var sections []*section
	defaultsBalance := ""
	var cur *section
	for _, ln := range configLines(cfg) {
		i, f := ln.index, ln.fields
		switch {
		case sectionKeywords[f[0]]:
			cur = &section{kind: f[0], line: i + 1, inherited: defaultsBalance}
			if len(f) > 1 {
				cur.name = f[1]
			}
			sections = append(sections, cur)
			continue
		}
		if cur == nil || len(f) < 2 {
			continue
		}
		switch {
		case f[0] == "balance" && cur.kind == "defaults":
			defaultsBalance = f[1]
		case f[0] == "balance":
			cur.balance, cur.balanceLine = f[1], i+1
		case f[0] == "server" && len(f) >= 3:
			cur.servers = append(cur.servers, server{name: f[1], addr: f[2], line: i + 1})
		}
	}

	web := p.Topology.NodesWithRole(RoleWeb)
	found := false
	for _, s := range sections {
		if s.kind != "backend" && s.kind != "listen" || len(s.servers) == 0 {
			continue
		}
		found = true
		balance := s.balance
		if balance == "" {
			balance = s.inherited
		}
		switch {
		case balance == "":
			p.Reportf(d, drivePath, s.line, "%s %s sets no balance (haproxy would use roundrobin); the topology balances with %s", s.kind, s.name, haproxyBalance)
		case balance != haproxyBalance:
			p.Reportf(d, drivePath, s.balanceLine, "%s %s balances with %s; the topology balances with %s", s.kind, s.name, balance, haproxyBalance)
		}
		served := map[string]bool{}
		for _, srv := range s.servers {
			host, port := srv.addr, ""
			if h, p, ok := strings.Cut(srv.addr, ":"); ok {
				host, port = h, p
			}
			n, ok := nodeByAddress(web, host)
			switch {
			case !ok:
				p.Reportf(d, drivePath, srv.line, "server %s points at %s, which is not a node of role %s (%s)", srv.name, host, RoleWeb, fqdns(web))
			case served[n.Name]:
				p.Reportf(d, drivePath, srv.line, "server %s is node %s again; list each web node once", srv.name, n.Name)
			case port != "" && port != "80":
				p.Reportf(d, drivePath, srv.line, "server %s uses port %s; the web nodes serve on 80", srv.name, port)
			}
			if ok {
				served[n.Name] = true
			}
		}
		for _, n := range web {
			if !served[n.Name] {
				p.Reportf(d, drivePath, s.line, "%s %s has no server for node %s (%s); add one", s.kind, s.name, n.Name, n.FQDN)
			}
		}
	}
	if !found {
		p.Reportf(d, drivePath, 0, "haproxy.cfg has no backend with servers; the topology's web nodes are %s", fqdns(web))
	}
}

func nodeByAddress(nodes []topology.Node, host string) (topology.Node, bool) {
	for _, n := range nodes {
		if host == n.FQDN || host == n.ShortName() || host == n.IP.String() {
			return n, true
		}
	}
	return topology.Node{}, false
}

func fqdns(nodes []topology.Node) string {
	var names []string
	for _, n := range nodes {
		names = append(names, n.FQDN)
	}
	return strings.Join(names, ", ")
}

// haproxyMessageRE matches haproxy -c's "[ALERT]    (123) : config : parsing [f:12] : msg".
var haproxyMessageRE = regexp.MustCompile(`^\[(ALERT|WARNING)\]\s*\(\d+\) : (?:config : )?(?:parsing \[[^\]]*:(\d+)\] : )?(.*)$`)

// haproxyCheck runs `haproxy -c` on the rendered config and maps its
// messages back to template lines.
func haproxyCheck(ctx context.Context, p *lint.Pass, d render.Drive, drivePath string, cfg []byte) {
	bin, err := haproxyBinary()
	if err != nil {
		p.Skip("haproxy -c: haproxy is not on PATH (install the haproxy package; make test does)")
		return
	}
	dir, err := os.MkdirTemp("", "drivelab-lint-")
	if err != nil {
		p.Report(lint.Problem{Node: d.Node.Name, Message: fmt.Sprintf("haproxy -c: %v", err)})
		return
	}
	defer os.RemoveAll(dir)
	file := filepath.Join(dir, "haproxy.cfg")
	if err := os.WriteFile(file, resolved(p.Topology, cfg), 0o644); err != nil {
		p.Report(lint.Problem{Node: d.Node.Name, Message: fmt.Sprintf("haproxy -c: %v", err)})
		return
	}
	out, err := exec.CommandContext(ctx, bin, "-c", "-f", file).CombinedOutput()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		p.Report(lint.Problem{Node: d.Node.Name, Message: fmt.Sprintf("haproxy -c could not run: %v", err)})
		return
	}
	reported := false
	for _, line := range strings.Split(string(out), "\n") {
		m := haproxyMessageRE.FindStringSubmatch(strings.TrimSpace(line))
		if m == nil || strings.HasPrefix(m[3], "Error(s) found in configuration file") || strings.HasPrefix(m[3], "Fatal errors found in configuration") {
			continue
		}
		n, _ := strconv.Atoi(m[2])
		p.Reportf(d, drivePath, n, "haproxy -c %s: %s", strings.ToLower(m[1]), m[3])
		reported = true
	}
	if err != nil && !reported {
		p.Reportf(d, drivePath, 0, "haproxy -c rejects it:\n%s", out)
	}
}

// haproxyBinary finds haproxy on PATH or where Debian puts it, which is
// not on a normal user's PATH.
func haproxyBinary() (string, error) {
	if bin, err := exec.LookPath("haproxy"); err == nil {
		return bin, nil
	}
	return exec.LookPath("/usr/sbin/haproxy")
}

// resolved replaces the topology's host names with their addresses: the
// guest resolves them through the /etc/hosts its drive carries, the host
// running lint cannot. Lines stay where they are, so messages map back.
func resolved(topo *topology.Topology, cfg []byte) []byte {
	// Only FQDNs: a short name such as "haproxy" is also a user and group.
	addr := map[string]string{}
	for _, n := range topo.Nodes {
		addr[n.FQDN] = n.IP.String()
	}
	return tokenRE.ReplaceAllFunc(cfg, func(tok []byte) []byte {
		host, port, hasPort := strings.Cut(string(tok), ":")
		if ip, ok := addr[host]; ok {
			if hasPort {
				return []byte(ip + ":" + port)
			}
			return []byte(ip)
		}
		return tok
	})
}

var tokenRE = regexp.MustCompile(`[^\s#]+`)
