package lint

import (
	"bytes"
	"fmt"
	"iter"
	"net/netip"
	"slices"
	"strings"

	"github.com/drivelab/drivelab/framework/render"
)

const hostsPath = "/etc/hosts"

// hosts checks that every node carries the same /etc/hosts and that it maps
// every node's FQDN to its address.
func (p *Pass) hosts(drives []render.Drive) {
	type group struct {
		data  []byte
		nodes []string
	}
	var groups []*group
	carried := map[string]render.Content{}
	byNode := map[string]render.Drive{}
	for _, d := range drives {
		byNode[d.Node.Name] = d
		i := slices.IndexFunc(d.Content, func(c render.Content) bool { return c.GuestPath == hostsPath })
		if i < 0 {
			p.add(d.Node.Name, "", 0, "carries no %s; add the hosts file to its role's files", hostsPath)
			continue
		}
		c := d.Content[i]
		carried[d.Node.Name] = c
		j := slices.IndexFunc(groups, func(g *group) bool { return bytes.Equal(g.data, c.Data) })
		if j < 0 {
			groups = append(groups, &group{data: c.Data})
			j = len(groups) - 1
		}
		groups[j].nodes = append(groups[j].nodes, d.Node.Name)
	}
	if len(groups) == 0 {
		return
	}
	// The culprits are the nodes outside the largest group (the first on a tie).
	ref := groups[0]
	for _, g := range groups[1:] {
		if len(g.nodes) > len(ref.nodes) {
			ref = g
		}
	}
	for _, g := range groups {
		if g == ref {
			continue
		}
		for _, node := range g.nodes {
			d, c := byNode[node], carried[node]
			n, got, want := FirstDifference(c.Data, ref.data)
			p.Reportf(d, render.ContentFile(c.ContentPath), n,
				"%s differs from the one nodes %s carry, at line %d: %q instead of %q; every node needs the same hosts file",
				hostsPath, strings.Join(ref.nodes, ", "), n, got, want)
		}
	}
	for _, g := range groups {
		missing := p.unlisted(g.data)
		for _, node := range g.nodes {
			d, c := byNode[node], carried[node]
			for _, m := range missing {
				p.add(node, d.Templates[render.ContentFile(c.ContentPath)], 0, "%s", m)
			}
		}
	}
}

// unlisted reports the nodes a hosts file does not map to their address.
func (p *Pass) unlisted(data []byte) []string {
	names := map[string][]netip.Addr{}
	for ip, name := range hostsEntries(data) {
		names[name] = append(names[name], ip)
	}
	var out []string
	for _, n := range p.Topology.Nodes {
		switch ips := names[n.FQDN]; {
		case len(ips) == 0:
			out = append(out, fmt.Sprintf("%s does not list node %s (%s %s); it must list every node", hostsPath, n.Name, n.IP, n.FQDN))
		case !slices.Equal(v4(ips), []netip.Addr{n.IP}) || ips[0] != n.IP:
			// An IPv6 address after the IPv4 one is dual-stack; the hosts
			// check reads the first address of each name.
			out = append(out, fmt.Sprintf("%s maps %s to %v; the topology says %s (first, and the only IPv4 address)", hostsPath, n.FQDN, ips, n.IP))
		}
	}
	return out
}

// FirstDifference returns the first line (1-based) where a and b differ and
// the two lines; 0 when they hold the same lines.
func FirstDifference(a, b []byte) (int, string, string) {
	la, lb := strings.Split(string(a), "\n"), strings.Split(string(b), "\n")
	for i := range max(len(la), len(lb)) {
		var x, y string
		if i < len(la) {
			x = la[i]
		}
		if i < len(lb) {
			y = lb[i]
		}
		if x != y {
			return i + 1, x, y
		}
	}
	return 0, "", ""
}

// Resolver resolves names as a node's guest does: through the /etc/hosts
// its drive carries (the lab has no DNS server), the first line naming a
// name winning, names compared without case, as glibc's files backend does.
type Resolver map[string]netip.Addr

// HostsOf is the resolver of drive d; nil when d carries no hosts file
// (which the hosts rule reports).
func HostsOf(d render.Drive) Resolver {
	i := slices.IndexFunc(d.Content, func(c render.Content) bool { return c.GuestPath == hostsPath })
	if i < 0 || d.Content[i].Data == nil {
		return nil
	}
	r := Resolver{}
	for ip, name := range hostsEntries(d.Content[i].Data) {
		if _, seen := r[strings.ToLower(name)]; !seen {
			r[strings.ToLower(name)] = ip
		}
	}
	return r
}

// hostsEntries are a hosts file's address and name pairs, in order, as
// the guest's resolver reads them (comments and malformed lines skipped).
func hostsEntries(data []byte) iter.Seq2[netip.Addr, string] {
	return func(yield func(netip.Addr, string) bool) {
		for line := range strings.SplitSeq(string(data), "\n") {
			line, _, _ = strings.Cut(line, "#")
			f := strings.Fields(line)
			if len(f) < 2 {
				continue
			}
			ip, err := netip.ParseAddr(f[0])
			if err != nil {
				continue
			}
			for _, name := range f[1:] {
				if !yield(ip, name) {
					return
				}
			}
		}
	}
}

// Lookup is host's address: host itself when it is an address, else the
// hosts file's; false when the guest could not resolve it.
func (r Resolver) Lookup(host string) (netip.Addr, bool) {
	if ip, err := netip.ParseAddr(host); err == nil {
		return ip, true
	}
	ip, ok := r[strings.ToLower(host)]
	return ip, ok
}

func v4(ips []netip.Addr) []netip.Addr {
	var out []netip.Addr
	for _, ip := range ips {
		if ip.Unmap().Is4() {
			out = append(out, ip)
		}
	}
	return out
}
