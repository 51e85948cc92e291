package scenarios

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
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
		// Names resolve as on the guest: through the hosts file it carries.
		hosts := lint.HostsOf(d)
		if hosts == nil {
			hosts = topologyHosts(p.Topology)
		}
		haproxyBackends(p, d, drivePath, c.Data, hosts)
		haproxyFront(p, d, drivePath, c.Data)
		haproxyCheck(ctx, p, d, drivePath, c.Data, hosts)
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
		binds      []bind
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
			v6only := slices.Contains(f[2:], "v6only")
			for _, a := range strings.Split(f[1], ",") {
				cur.binds = append(cur.binds, bind{addr: a, v6only: v6only, line: i + 1})
			}
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
		if !slices.ContainsFunc(fr.binds, func(b bind) bool { return bindsPort80(b, n) }) {
			for _, b := range fr.binds {
				if why := ipv6Only(b); why != "" && bindsPort80(bind{addr: strings.TrimPrefix(b.addr, "ipv6@")}, n) {
					p.Reportf(d, drivePath, b.line, "%s %s binds %s %s: it accepts IPv6 only, and the client connects to %s's IPv4 address %s; bind %s:80 (or :::80 without v6only)", fr.kind, fr.name, b.addr, why, n.FQDN, n.IP, n.FQDN)
					return
				}
			}
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

// bind is one address of a bind line.
type bind struct {
	addr   string
	v6only bool
	line   int
}

// ipv6Only says why a bind accepts IPv6 connections only ("" when it
// does not): `v6only`, or an ipv6@ address other than :: (the name or
// address is then taken as IPv6).
func ipv6Only(b bind) string {
	host := b.addr
	if i := strings.LastIndexByte(host, ':'); i >= 0 {
		host = host[:i]
	}
	switch {
	case b.v6only:
		return "with v6only"
	case strings.HasPrefix(host, "ipv6@") && strings.Trim(strings.TrimPrefix(host, "ipv6@"), "[]") != "::":
		return "(ipv6@ takes the address as IPv6)"
	}
	return ""
}

// bindsPort80 is true when a bind address accepts IPv4 connections to the
// node's address on port 80.
func bindsPort80(b bind, n topology.Node) bool {
	if ipv6Only(b) != "" {
		return false
	}
	addr := strings.TrimPrefix(strings.TrimPrefix(b.addr, "ipv4@"), "ipv6@")
	i := strings.LastIndexByte(addr, ':')
	if i < 0 || addr[i+1:] != "80" {
		return false
	}
	switch host := strings.Trim(addr[:i], "[]"); host {
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
// over exactly the topology's web nodes, on port 80, each server in
// rotation (not disabled, not backup, a weight above 0) and health-checked
// where it serves.
func haproxyBackends(p *lint.Pass, d render.Drive, drivePath string, cfg []byte, hosts lint.Resolver) {
	type server struct {
		name, addr string
		line       int
		opts       []string // default-server's options, then its own
	}
	type section struct {
		kind, name  string
		line        int
		balance     string
		balanceLine int
		servers     []server
		inherited   string   // balance set in the defaults before it
		defaults    []string // default-server options in force
		checkPort   string   // port of an http-check/tcp-check connect
		checkLine   int
	}
	var sections []*section
	defaultsBalance := ""
	var defaultServer []string
	defaultsCheckPort, defaultsCheckLine := "", 0
	var cur *section
	for _, ln := range configLines(cfg) {
		i, f := ln.index, ln.fields
		switch {
		case sectionKeywords[f[0]]:
			cur = &section{kind: f[0], line: i + 1, inherited: defaultsBalance, defaults: slices.Clone(defaultServer),
				checkPort: defaultsCheckPort, checkLine: defaultsCheckLine}
			if len(f) > 1 {
				cur.name = f[1]
			}
			if cur.kind == "defaults" {
				// A defaults section starts afresh.
				defaultServer, defaultsCheckPort, defaultsCheckLine = nil, "", 0
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
		case f[0] == "default-server" && cur.kind == "defaults":
			defaultServer = append(defaultServer, f[1:]...)
		case f[0] == "default-server":
			cur.defaults = append(cur.defaults, f[1:]...)
		case (f[0] == "http-check" || f[0] == "tcp-check") && f[1] == "connect":
			if j := slices.Index(f, "port"); j > 0 && j+1 < len(f) {
				if cur.kind == "defaults" {
					defaultsCheckPort, defaultsCheckLine = f[j+1], i+1
				} else {
					cur.checkPort, cur.checkLine = f[j+1], i+1
				}
			}
		case f[0] == "server" && len(f) >= 3:
			cur.servers = append(cur.servers, server{name: f[1], addr: f[2], line: i + 1, opts: append(slices.Clone(cur.defaults), f[3:]...)})
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
			if i := strings.LastIndexByte(srv.addr, ':'); i >= 0 {
				host, port = srv.addr[:i], srv.addr[i+1:]
			}
			if strings.HasPrefix(host, "ipv6@") {
				p.Reportf(d, drivePath, srv.line, "server %s connects to %s over IPv6 only (ipv6@), but the topology's nodes have IPv4 addresses; write %s", srv.name, strings.TrimPrefix(host, "ipv6@"), strings.TrimPrefix(srv.addr, "ipv6@"))
				if ip, ok := hosts.Lookup(strings.TrimPrefix(host, "ipv6@")); ok {
					if n, ok := nodeByIP(web, ip); ok {
						served[n.Name] = true
					}
				}
				continue
			}
			host = strings.TrimPrefix(host, "ipv4@")
			ip, resolves := hosts.Lookup(host)
			n, ok := nodeByIP(web, ip)
			switch {
			case !resolves:
				p.Reportf(d, drivePath, srv.line, "server %s points at %s, which node %s's %s does not list, so its guest cannot resolve it; name a web node as its hosts file does (%s)", srv.name, host, d.Node.Name, "/etc/hosts", fqdns(web))
			case !ok:
				p.Reportf(d, drivePath, srv.line, "server %s points at %s, which is not a node of role %s (%s)", srv.name, host, RoleWeb, fqdns(web))
			case served[n.Name]:
				p.Reportf(d, drivePath, srv.line, "server %s is node %s again; list each web node once", srv.name, n.Name)
			case port != "" && port != "80":
				p.Reportf(d, drivePath, srv.line, "server %s uses port %s; the web nodes serve on 80", srv.name, port)
			}
			if ok {
				served[n.Name] = true
				serverState(p, d, drivePath, srv.line, srv.name, n, srv.opts, hosts, s.checkPort, s.checkLine)
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

// serverState refuses a server haproxy would keep out of rotation or
// health-check somewhere else than where its node serves: the services,
// leastconn and failover checks need every web node to take requests, and
// a health check on the wrong port or host marks a healthy node down.
// opts are default-server's options, then the server's own; the last
// setting of each wins, as in haproxy.
func serverState(p *lint.Pass, d render.Drive, drivePath string, line int, name string, n topology.Node, opts []string, hosts lint.Resolver, checkPort string, checkLine int) {
	var disabled, backup, check bool
	weight, port, addr := "", "", ""
	for i := 0; i < len(opts); i++ {
		arg := ""
		if i+1 < len(opts) {
			arg = opts[i+1]
		}
		switch opts[i] {
		case "disabled":
			disabled = true
		case "enabled":
			disabled = false
		case "backup":
			backup = true
		case "no-backup":
			backup = false
		case "check":
			check = true
		case "no-check":
			check = false
		case "weight":
			weight, i = arg, i+1
		case "port":
			port, i = arg, i+1
		case "addr":
			addr, i = arg, i+1
		}
	}
	if disabled {
		p.Reportf(d, drivePath, line, "server %s is `disabled`: haproxy starts it in maintenance and sends node %s no requests; remove `disabled`", name, n.Name)
	}
	if backup {
		p.Reportf(d, drivePath, line, "server %s is a `backup` server: haproxy sends node %s requests only when every other server is down, so leastconn never spreads load to it; remove `backup`", name, n.Name)
	}
	if w, err := strconv.Atoi(weight); weight != "" && err == nil && w == 0 {
		p.Reportf(d, drivePath, line, "server %s has `weight 0`: haproxy sends node %s no requests; remove it or give `weight 100` (1 to 256)", name, n.Name)
	}
	if !check {
		return
	}
	switch {
	case port != "" && port != "80":
		p.Reportf(d, drivePath, line, "server %s is health-checked on port %s (`port %s`), but node %s serves on 80: the check fails and haproxy takes the node out of rotation; remove `port %s`", name, port, port, n.Name, port)
	case port == "" && checkPort != "" && checkPort != "80":
		p.Reportf(d, drivePath, checkLine, "server %s is health-checked on port %s (`connect port %s`), but node %s serves on 80: the check fails and haproxy takes the node out of rotation; remove `port %s`", name, checkPort, checkPort, n.Name, checkPort)
	}
	if addr != "" {
		if ip, ok := hosts.Lookup(addr); !ok || ip != n.IP {
			p.Reportf(d, drivePath, line, "server %s is health-checked at %s (`addr %s`), which is not node %s (%s): the check probes another host; remove `addr %s`", name, addr, addr, n.Name, n.IP, addr)
		}
	}
}

// nodeByIP is the node of nodes with address ip.
func nodeByIP(nodes []topology.Node, ip netip.Addr) (topology.Node, bool) {
	for _, n := range nodes {
		if n.IP == ip.Unmap() {
			return n, true
		}
	}
	return topology.Node{}, false
}

// topologyHosts resolves the topology's FQDNs, for a load balancer whose
// drive carries no hosts file (the hosts rule reports that).
func topologyHosts(t *topology.Topology) lint.Resolver {
	r := lint.Resolver{}
	for _, n := range t.Nodes {
		r[n.FQDN] = n.IP
	}
	return r
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

// haproxyMessageRE matches haproxy -c's "[ALERT]    (123) : config : parsing [f:12] : msg"
// and "[ALERT]    (123) : config : [f:12] : msg" (the temporary file's name dropped).
var haproxyMessageRE = regexp.MustCompile(`^\[(ALERT|WARNING)\]\s*\(\d+\) : (?:config : )?(?:(?:parsing )?\[[^\]]*:(\d+)\] : )?(.*)$`)

// haproxyCheck runs `haproxy -c` on the rendered config and maps its
// messages back to template lines.
func haproxyCheck(ctx context.Context, p *lint.Pass, d render.Drive, drivePath string, cfg []byte, hosts lint.Resolver) {
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
	if err := os.WriteFile(file, resolved(hosts, cfg), 0o644); err != nil {
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

// resolved replaces the host names at address positions (a server's
// address and `addr`, a bind's addresses) with the addresses the guest's
// hosts file gives them: the host running lint cannot resolve them. Other
// words stay (a short name such as "haproxy" is also a user and group),
// and lines stay where they are, so messages map back.
func resolved(hosts lint.Resolver, cfg []byte) []byte {
	lines := strings.Split(string(cfg), "\n")
	for i, line := range lines {
		code, comment, hasComment := strings.Cut(line, "#")
		locs := tokenRE.FindAllStringIndex(code, -1)
		if len(locs) < 2 {
			continue
		}
		first := code[locs[0][0]:locs[0][1]]
		var at []int // token indexes holding addresses
		switch first {
		case "server":
			at = append(at, 2)
			for k := 3; k+1 < len(locs); k++ {
				if code[locs[k][0]:locs[k][1]] == "addr" {
					at = append(at, k+1)
				}
			}
		case "bind":
			at = append(at, 1)
		default:
			continue
		}
		var b strings.Builder
		last := 0
		for _, k := range at {
			if k >= len(locs) {
				continue
			}
			b.WriteString(code[last:locs[k][0]])
			b.WriteString(resolveAddrs(hosts, code[locs[k][0]:locs[k][1]]))
			last = locs[k][1]
		}
		b.WriteString(code[last:])
		if hasComment {
			b.WriteString("#" + comment)
		}
		lines[i] = b.String()
	}
	return []byte(strings.Join(lines, "\n"))
}

// resolveAddrs resolves each name in a comma-separated list of
// [family@]host[:port] addresses.
func resolveAddrs(hosts lint.Resolver, list string) string {
	parts := strings.Split(list, ",")
	for i, a := range parts {
		prefix := ""
		if j := strings.IndexByte(a, '@'); j >= 0 {
			prefix, a = a[:j+1], a[j+1:]
		}
		host, port, hasPort := a, "", false
		if j := strings.LastIndexByte(a, ':'); j >= 0 && !strings.Contains(a[:j], ":") {
			host, port, hasPort = a[:j], a[j+1:], true
		}
		if _, err := netip.ParseAddr(host); err == nil || host == "" || host == "*" {
			continue
		}
		if ip, ok := hosts.Lookup(host); ok && prefix != "ipv6@" {
			host = ip.String()
		}
		if hasPort {
			host += ":" + port
		}
		parts[i] = prefix + host
	}
	return strings.Join(parts, ",")
}

var tokenRE = regexp.MustCompile(`[^\s#]+`)
