package loadbalancer

import (
	"context"
	"net/netip"
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
		hc := parseHaproxyConfig(c.Data)
		haproxyBackends(p, d, drivePath, hc, hosts)
		haproxyFront(p, d, drivePath, hc)
		haproxyCheck(ctx, p, d, drivePath, hc, hosts)
	}
}

// haproxyFront checks what the checks rely on besides the backend: a
// `stats socket` in global (leastconn and failover read per-server counters
// from it) and a frontend or listen section bound to port 80 of the
// node's address that sends its requests to a backend with servers (the
// checks request http://<load balancer FQDN>/ from the client).
func haproxyFront(p *lint.Pass, d render.Drive, drivePath string, hc haproxyConfig) {
	n := d.Node
	if !slices.ContainsFunc(hc.StatsSockets, func(s statsSocket) bool { return s.InGlobal }) {
		socketWhere := 0
		for _, s := range hc.StatsSockets {
			socketWhere = s.Line
		}
		p.Reportf(d, drivePath, socketWhere, "no `stats socket` in global; the leastconn and failover checks read per-server counters from it: add `stats socket /tmp/sock mode 0666 level user` to global")
	}
	var fronts []*haproxySection
	for _, s := range hc.Sections {
		if s.Kind == "frontend" || s.Kind == "listen" {
			fronts = append(fronts, s)
		}
	}
	for _, fr := range fronts {
		if !slices.ContainsFunc(fr.Binds, func(b haproxyBind) bool { return bindsPort80(b, n) }) {
			for _, b := range fr.Binds {
				if why := ipv6Only(b); why != "" && bindsPort80(haproxyBind{Addr: strings.TrimPrefix(b.Addr, "ipv6@")}, n) {
					p.Reportf(d, drivePath, b.Line, "%s %s binds %s %s: it accepts IPv6 only, and the client connects to %s's IPv4 address %s; bind %s:80 (or :::80 without v6only)", fr.Kind, fr.Name, b.Addr, why, n.FQDN, n.IP, n.FQDN)
					return
				}
			}
			continue
		}
		switch {
		case len(fr.Servers) > 0:
			return
		case fr.Backend == "":
			p.Reportf(d, drivePath, fr.Line, "%s %s listens on %s:80 but names no default_backend; the checks' requests would get 503", fr.Kind, fr.Name, n.FQDN)
			return
		case !hc.backendHasServers(fr.Backend):
			p.Reportf(d, drivePath, fr.BackendLine, "%s %s sends requests to backend %s, which has no servers; send them to the backend of the web nodes", fr.Kind, fr.Name, fr.Backend)
			return
		}
		return
	}
	line := 0
	for _, fr := range fronts {
		if len(fr.Binds) > 0 {
			line = fr.Binds[len(fr.Binds)-1].Line
			break
		}
	}
	p.Reportf(d, drivePath, line, "no frontend listens on port 80 of %s (%s); the checks request http://%s/ from the client: bind %s:80", n.FQDN, n.IP, n.FQDN, n.FQDN)
}

// ipv6Only says why a bind accepts IPv6 connections only ("" when it
// does not): `v6only`, or an ipv6@ address other than :: (the name or
// address is then taken as IPv6).
func ipv6Only(b haproxyBind) string {
	host := b.Addr
	if i := strings.LastIndexByte(host, ':'); i >= 0 {
		host = host[:i]
	}
	switch {
	case b.V6Only:
		return "with v6only"
	case strings.HasPrefix(host, "ipv6@") && strings.Trim(strings.TrimPrefix(host, "ipv6@"), "[]") != "::":
		return "(ipv6@ takes the address as IPv6)"
	}
	return ""
}

// bindsPort80 is true when a bind address accepts IPv4 connections to the
// node's address on port 80.
func bindsPort80(b haproxyBind, n topology.Node) bool {
	if ipv6Only(b) != "" {
		return false
	}
	addr := strings.TrimPrefix(strings.TrimPrefix(b.Addr, "ipv4@"), "ipv6@")
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

// haproxyBackends checks that every backend balances with haproxyBalance
// over exactly the topology's web nodes, on port 80, each server in
// rotation (not disabled, not backup, a weight above 0) and health-checked
// where it serves.
func haproxyBackends(p *lint.Pass, d render.Drive, drivePath string, hc haproxyConfig, hosts lint.Resolver) {
	web := p.Topology.NodesWithRole(RoleWeb)
	found := false
	for _, s := range hc.Sections {
		if s.Kind != "backend" && s.Kind != "listen" || len(s.Servers) == 0 {
			continue
		}
		found = true
		balance := s.Balance
		if balance == "" {
			balance = s.DefaultsBalance
		}
		switch {
		case balance == "":
			p.Reportf(d, drivePath, s.Line, "%s %s sets no balance (haproxy would use roundrobin); the topology balances with %s", s.Kind, s.Name, haproxyBalance)
		case balance != haproxyBalance:
			p.Reportf(d, drivePath, s.BalanceLine, "%s %s balances with %s; the topology balances with %s", s.Kind, s.Name, balance, haproxyBalance)
		}
		served := map[string]bool{}
		for _, srv := range s.Servers {
			host, port := srv.Addr, ""
			if i := strings.LastIndexByte(srv.Addr, ':'); i >= 0 {
				host, port = srv.Addr[:i], srv.Addr[i+1:]
			}
			if strings.HasPrefix(host, "ipv6@") {
				p.Reportf(d, drivePath, srv.Line, "server %s connects to %s over IPv6 only (ipv6@), but the topology's nodes have IPv4 addresses; write %s", srv.Name, strings.TrimPrefix(host, "ipv6@"), strings.TrimPrefix(srv.Addr, "ipv6@"))
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
				p.Reportf(d, drivePath, srv.Line, "server %s points at %s, which node %s's %s does not list, so its guest cannot resolve it; name a web node as its hosts file does (%s)", srv.Name, host, d.Node.Name, "/etc/hosts", fqdns(web))
			case !ok:
				p.Reportf(d, drivePath, srv.Line, "server %s points at %s, which is not a node of role %s (%s)", srv.Name, host, RoleWeb, fqdns(web))
			case served[n.Name]:
				p.Reportf(d, drivePath, srv.Line, "server %s is node %s again; list each web node once", srv.Name, n.Name)
			case port != "" && port != "80":
				p.Reportf(d, drivePath, srv.Line, "server %s uses port %s; the web nodes serve on 80", srv.Name, port)
			}
			if ok {
				served[n.Name] = true
				serverState(p, d, drivePath, s, srv, n, hosts)
			}
		}
		for _, n := range web {
			if !served[n.Name] {
				p.Reportf(d, drivePath, s.Line, "%s %s has no server for node %s (%s); add one", s.Kind, s.Name, n.Name, n.FQDN)
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
// The section's `connect port` serves a server that sets no port.
func serverState(p *lint.Pass, d render.Drive, drivePath string, s *haproxySection, srv haproxyServer, n topology.Node, hosts lint.Resolver) {
	name, line := srv.Name, srv.Line
	checkPort, checkLine := s.CheckPort, s.CheckLine
	if srv.Disabled {
		p.Reportf(d, drivePath, line, "server %s is `disabled`: haproxy starts it in maintenance and sends node %s no requests; remove `disabled`", name, n.Name)
	}
	if srv.Backup {
		p.Reportf(d, drivePath, line, "server %s is a `backup` server: haproxy sends node %s requests only when every other server is down, so leastconn never spreads load to it; remove `backup`", name, n.Name)
	}
	if w, err := strconv.Atoi(srv.Weight); srv.Weight != "" && err == nil && w == 0 {
		p.Reportf(d, drivePath, line, "server %s has `weight 0`: haproxy sends node %s no requests; remove it or give `weight 100` (1 to 256)", name, n.Name)
	}
	if !srv.Check {
		return
	}
	port, addr := srv.CheckPort, srv.CheckAddr
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

func fqdns(nodes []topology.Node) string {
	var names []string
	for _, n := range nodes {
		names = append(names, n.FQDN)
	}
	return strings.Join(names, ", ")
}
