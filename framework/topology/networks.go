package topology

import (
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// A lab has one network (`network:`, the seed's form, each node's `ip` and
// `mac` on it) or several (`networks:`, each node's `nics:` on them). Load
// turns the first form into the second, so everything past Parse reads
// Networks and NICs only; Network and a node's IP and MAC stay as the
// first network and the node's first address and MAC.

// Route is one extra route a network's nodes get: To via Via.
type Route struct {
	To  netip.Prefix `yaml:"to"`
	Via netip.Addr   `yaml:"via"`
}

// NIC is one of a node's interfaces as the guest names it: a physical NIC
// (the default), a VLAN on another NIC (VLANOn) or an active-backup bond of
// NICs (Bond). One on a network has its static addresses there.
type NIC struct {
	Name    string     `yaml:"name"`
	MAC     string     `yaml:"mac"`
	Network string     `yaml:"network"`
	IP      netip.Addr `yaml:"ip"`
	IP6     netip.Addr `yaml:"ip6"`
	VLANOn  string     `yaml:"vlan_on"`
	Bond    []string   `yaml:"bond"`

	// What follows is derived by Load, for templates and checks.

	// Kind is "phy", "vlan" or "bond", as network_data.json's link types.
	Kind string `yaml:"-"`
	// VLAN is the network's VLAN id on a VLAN NIC, else 0.
	VLAN int `yaml:"-"`
	// MTU is the network's MTU (0: the NIC's default, 1500).
	MTU int `yaml:"-"`
	// Prefix and Prefix6 are IP and IP6 with their network's prefix length.
	Prefix, Prefix6 netip.Prefix `yaml:"-"`
	// Gateway and Gateway6 are set on the NIC that holds the node's default
	// route of that family: the first of its NICs whose network has one.
	// A node has one default route per family, whatever its networks.
	Gateway, Gateway6 netip.Addr `yaml:"-"`
	// Routes are the network's extra routes.
	Routes []Route `yaml:"-"`
	// Wire is the network whose bridge a physical NIC plugs into: its own,
	// its bond's or that of the VLANs it carries ("" for VLANs and bonds).
	Wire string `yaml:"-"`
	// HWAddr is the MAC the guest's interface has: a physical NIC's own,
	// a bond's first member's, a VLAN's parent's.
	HWAddr string `yaml:"-"`
}

// Subnet is one address of a NIC with what goes with it: one entry of
// network_data.json's "networks".
type Subnet struct {
	// Link is the NIC's name.
	Link string
	IPv6 bool
	// Addr is the NIC's address; Prefix its network.
	Addr   netip.Addr
	Prefix netip.Prefix
	// Gateway is the default route's router, on the NIC that has it.
	Gateway netip.Addr
	// Routes are the network's extra routes of this family.
	Routes []Route
}

// Subnets are the node's addresses in NIC order, IPv4 before IPv6.
func (n Node) Subnets() []Subnet {
	var out []Subnet
	for _, c := range n.NICs {
		for _, s := range []Subnet{
			{Link: c.Name, Addr: c.IP, Prefix: c.Prefix.Masked(), Gateway: c.Gateway},
			{Link: c.Name, IPv6: true, Addr: c.IP6, Prefix: c.Prefix6.Masked(), Gateway: c.Gateway6},
		} {
			if !s.Addr.IsValid() || !s.Prefix.IsValid() {
				continue
			}
			for _, r := range c.Routes {
				if r.To.Addr().Is6() == s.IPv6 {
					s.Routes = append(s.Routes, r)
				}
			}
			out = append(out, s)
		}
	}
	return out
}

// NIC kinds, as network_data.json names its link types.
const (
	KindPhy  = "phy"
	KindVLAN = "vlan"
	KindBond = "bond"
)

// NetworkNamed returns the network called name.
func (t *Topology) NetworkNamed(name string) (Network, bool) {
	i := slices.IndexFunc(t.Networks, func(n Network) bool { return n.Name == name })
	if i < 0 {
		return Network{}, false
	}
	return t.Networks[i], true
}

// NIC returns the node's interface called name.
func (n Node) NIC(name string) (NIC, bool) {
	i := slices.IndexFunc(n.NICs, func(c NIC) bool { return c.Name == name })
	if i < 0 {
		return NIC{}, false
	}
	return n.NICs[i], true
}

// PhysicalNICs are the node's physical NICs in order: what the VM has.
func (n Node) PhysicalNICs() []NIC {
	var out []NIC
	for _, c := range n.NICs {
		if c.Kind == KindPhy {
			out = append(out, c)
		}
	}
	return out
}

// On returns the node's NIC on network, if it has one.
func (n Node) On(network string) (NIC, bool) {
	i := slices.IndexFunc(n.NICs, func(c NIC) bool { return c.Network == network })
	if i < 0 {
		return NIC{}, false
	}
	return n.NICs[i], true
}

// Reaches reports whether from reaches to's address addr directly: both
// have a NIC on the network addr is on. Runs' namespaces forward nothing,
// so no other path exists.
func (t *Topology) Reaches(from, to Node, addr netip.Addr) bool {
	for _, c := range to.NICs {
		if c.IP == addr || c.IP6 == addr {
			_, ok := from.On(c.Network)
			return ok && c.Network != ""
		}
	}
	return false
}

// LabAddr is the node's address on a network with a gateway, where the
// run's own namespace (which holds the gateways) reaches it directly, IPv4
// first; false for a node only on networks without one.
func (t *Topology) LabAddr(n Node) (netip.Addr, bool) {
	for _, v6 := range []bool{false, true} {
		for _, c := range n.NICs {
			nw, ok := t.NetworkNamed(c.Network)
			switch {
			case !ok:
			case !v6 && c.IP.IsValid() && nw.Gateway.IsValid():
				return c.IP, true
			case v6 && c.IP6.IsValid() && nw.Gateway6.IsValid():
				return c.IP6, true
			}
		}
	}
	return netip.Addr{}, false
}

// Hop is how the harness reaches a node: through Via (a node it reached
// first; "" for the client itself), at Addr.
type Hop struct {
	Via  string
	Addr netip.Addr
}

// Hops plans how the harness reaches every node from the client: the
// client directly, then each node through the nearest node that shares a
// network with it (breadth first, in topology order), at its address on
// that network, IPv4 first. With one network every node is one hop from
// the client, at its IP.
func (t *Topology) Hops() (map[string]Hop, error) {
	client, err := t.ClientNode()
	if err != nil {
		return nil, err
	}
	hops := map[string]Hop{client.Name: {Addr: client.IP}}
	queue := []Node{client}
	for len(queue) > 0 {
		from := queue[0]
		queue = queue[1:]
		for _, to := range t.Nodes {
			if _, done := hops[to.Name]; done {
				continue
			}
			if a, ok := t.sharedAddr(from, to); ok {
				hops[to.Name] = Hop{Via: from.Name, Addr: a}
				queue = append(queue, to)
			}
		}
	}
	var lost []string
	for _, n := range t.Nodes {
		if _, ok := hops[n.Name]; !ok {
			lost = append(lost, n.Name)
		}
	}
	if len(lost) > 0 {
		return nil, fmt.Errorf("%s: node(s) %s share no network with the client %s or with any node it reaches, so the harness cannot reach them; put each on a network of a node it reaches", t.At("nodes"), strings.Join(lost, ", "), client.Name)
	}
	return hops, nil
}

// sharedAddr is to's address on the first network from is on too, IPv4
// first.
func (t *Topology) sharedAddr(from, to Node) (netip.Addr, bool) {
	for _, v6 := range []bool{false, true} {
		for _, c := range to.NICs {
			if _, ok := from.On(c.Network); !ok || c.Network == "" {
				continue
			}
			if a := c.IP; !v6 && a.IsValid() {
				return a, true
			}
			if a := c.IP6; v6 && a.IsValid() {
				return a, true
			}
		}
	}
	return netip.Addr{}, false
}

// normalize turns the one-network form into the several-network one and
// derives what templates and checks read (NIC.Kind, Wire, Gateway, ...;
// Node.IP, MAC and DNS). Problems are left to Validate.
func (t *Topology) normalize() {
	t.legacy = t.legacy || len(t.Networks) == 0
	if t.legacy {
		// The one-network form's fields are the truth: derive again from them.
		nw := t.Network
		nw.Name = DefaultNetwork
		t.Networks = []Network{nw}
		t.Domain = nw.Domain
		for i := range t.Nodes {
			n := &t.Nodes[i]
			n.NICs = []NIC{{Name: "eth0", MAC: n.MAC, Network: DefaultNetwork, IP: n.IP}}
		}
	}
	for i := range t.Networks {
		nw := &t.Networks[i]
		nw.Domain = t.Domain
		if nw.Bridge == "" && nw.Name != "" && !t.legacy {
			nw.Bridge = "br-" + nw.Name
		}
	}
	t.Network = t.Networks[0]
	for i := range t.Nodes {
		t.Nodes[i].derive(t)
	}
}

// DefaultNetwork names the one network of the one-network form.
const DefaultNetwork = "default"

func (n *Node) derive(t *Topology) {
	var dns []netip.Addr
	v4, v6 := false, false
	for i := range n.NICs {
		c := &n.NICs[i]
		c.MAC = strings.ToLower(c.MAC)
		switch {
		case len(c.Bond) > 0:
			c.Kind = KindBond
		case c.VLANOn != "":
			c.Kind = KindVLAN
			if c.Name == "" {
				if nw, ok := t.NetworkNamed(c.Network); ok {
					c.Name = c.VLANOn + "." + strconv.Itoa(nw.VLAN)
				}
			}
		default:
			c.Kind = KindPhy
		}
		nw, ok := t.NetworkNamed(c.Network)
		if !ok {
			continue
		}
		if c.Kind == KindVLAN {
			c.VLAN = nw.VLAN
		}
		c.MTU, c.Routes = nw.MTU, nw.Routes
		if c.IP.IsValid() && nw.CIDR.IsValid() {
			c.Prefix = netip.PrefixFrom(c.IP, nw.CIDR.Bits())
		}
		if c.IP6.IsValid() && nw.CIDR6.IsValid() {
			c.Prefix6 = netip.PrefixFrom(c.IP6, nw.CIDR6.Bits())
		}
		if !v4 && c.IP.IsValid() && nw.Gateway.IsValid() {
			c.Gateway, v4 = nw.Gateway, true
		}
		if !v6 && c.IP6.IsValid() && nw.Gateway6.IsValid() {
			c.Gateway6, v6 = nw.Gateway6, true
		}
		for _, a := range nw.DNS {
			if !slices.Contains(dns, a) {
				dns = append(dns, a)
			}
		}
	}
	n.DNS = dns
	for i := range n.NICs {
		if c := &n.NICs[i]; c.Kind == KindPhy {
			c.HWAddr = c.MAC
		}
	}
	for _, kind := range []string{KindBond, KindVLAN} { // a VLAN may sit on a bond
		for i := range n.NICs {
			c := &n.NICs[i]
			switch {
			case c.Kind != kind:
			case kind == KindBond && len(c.Bond) > 0:
				m, _ := n.NIC(c.Bond[0])
				c.HWAddr = m.HWAddr
			case kind == KindVLAN:
				p, _ := n.NIC(c.VLANOn)
				c.HWAddr = p.HWAddr
			}
		}
	}
	// The wire: a NIC's own network, else its bond's, else its VLANs'.
	for i := range n.NICs {
		c := &n.NICs[i]
		if c.Kind != KindPhy {
			continue
		}
		c.Wire = c.Network
		carrier := c.Name
		if b := slices.IndexFunc(n.NICs, func(o NIC) bool { return slices.Contains(o.Bond, c.Name) }); b >= 0 && c.Wire == "" {
			c.Wire, carrier = n.NICs[b].Network, n.NICs[b].Name
		}
		if c.Wire == "" {
			if v := slices.IndexFunc(n.NICs, func(o NIC) bool { return o.VLANOn == carrier }); v >= 0 {
				c.Wire = n.NICs[v].Network
			}
		}
	}
	if !t.legacy {
		n.IP, n.MAC = netip.Addr{}, ""
		for _, c := range n.NICs {
			if !n.IP.IsValid() && c.IP.IsValid() {
				n.IP = c.IP
			}
			if n.MAC == "" && c.Kind == KindPhy {
				n.MAC = c.MAC
			}
		}
	}
}

// validateNetworks checks the several-network form: each network, each
// node's NICs and its addresses on them.
func (t *Topology) validateNetworks(fail func(key, format string, args ...any)) {
	if !ValidFQDN("x." + t.Domain) {
		fail("domain", "domain %q is not a valid DNS domain (lower-case labels joined by dots, e.g. cloud.org); with `networks:` it is a top-level `domain:`", t.Domain)
	}
	seen := map[string]string{}
	for i, nw := range t.Networks {
		key := func(f string) string { return fmt.Sprintf("networks.%d.%s", i, f) }
		what := fmt.Sprintf("network %q", nw.Name)
		if !nameRE.MatchString(nw.Name) {
			fail(key("name"), "networks[%d]: name %q must be lower-case letters, digits and '-', starting with a letter", i, nw.Name)
		} else if seen[nw.Name] != "" {
			fail(key("name"), "%s is listed twice; give each network its own name", what)
		}
		seen[nw.Name] = nw.Name
		if !ifnameRE.MatchString(nw.Bridge) {
			fail(key("bridge"), "%s: bridge %q is not a Linux interface name (1-15 letters, digits, '_', '.', '-'); name it with `bridge:` (a long network name makes br-NAME too long)", what, nw.Bridge)
		}
		t.validateNetwork(nw, what, key, fail)
		for j, o := range t.Networks[:i] {
			for _, p := range []netip.Prefix{nw.CIDR, nw.CIDR6} {
				for _, q := range []netip.Prefix{o.CIDR, o.CIDR6} {
					if p.IsValid() && q.IsValid() && p.Overlaps(q) {
						fail(key("cidr"), "%s: %s overlaps network %q's %s (networks[%d]); give each network its own addresses", what, p, o.Name, q, j)
					}
				}
			}
		}
	}
	used := &nicsSeen{addrs: map[string]map[netip.Addr]string{}, macs: map[string]string{}}
	for i, n := range t.Nodes {
		t.validateNICs(i, n, used, fail)
	}
}

// validateNetwork checks one network of the several-network form.
func (t *Topology) validateNetwork(nw Network, what string, key func(string) string, fail func(key, format string, args ...any)) {
	if !nw.CIDR.IsValid() && !nw.CIDR6.IsValid() {
		fail(key("cidr"), "%s has neither cidr nor cidr6; give its IPv4 network (cidr: 10.20.0.0/24), its IPv6 one (cidr6: fd00:20::/64) or both", what)
	}
	if nw.CIDR.IsValid() {
		switch p := nw.CIDR; {
		case !p.Addr().Is4():
			fail(key("cidr"), "%s: cidr %s is not IPv4; give IPv6 as cidr6", what, p)
		case p.Masked() != p:
			fail(key("cidr"), "%s: cidr %s has host bits set; use %s", what, p, p.Masked())
		case p.Bits() > 30:
			fail(key("cidr"), "%s: cidr %s leaves no room for nodes; use /30 or shorter, such as /24", what, p)
		case specialBlock(p) != "":
			fail(key("cidr"), "%s: cidr %s overlaps %s; use a private network such as 10.20.0.0/24", what, p, specialBlock(p))
		}
	}
	if nw.CIDR6.IsValid() {
		switch p := nw.CIDR6; {
		case !p.Addr().Is6() || p.Addr().Is4In6():
			fail(key("cidr6"), "%s: cidr6 %s is not IPv6; give IPv4 as cidr", what, p)
		case p.Masked() != p:
			fail(key("cidr6"), "%s: cidr6 %s has host bits set; use %s", what, p, p.Masked())
		case p.Bits() > 126:
			fail(key("cidr6"), "%s: cidr6 %s leaves no room for nodes; use /64", what, p)
		case addrClass6(p.Addr()) != "":
			fail(key("cidr6"), "%s: cidr6 %s is %s; use a unique local network such as fd00:20::/64", what, p, addrClass6(p.Addr()))
		}
	}
	if nw.Gateway.IsValid() {
		if p := hostProblem(nw.CIDR, nw.Gateway); p != "" {
			fail(key("gateway"), "%s: gateway %s; give the router's address inside cidr, or none", what, p)
		}
	}
	if nw.Gateway6.IsValid() {
		if p := hostProblem(nw.CIDR6, nw.Gateway6); p != "" {
			fail(key("gateway6"), "%s: gateway6 %s; give the router's address inside cidr6, or none", what, p)
		}
	}
	for j, a := range nw.DNS {
		if c := addrClass6(a); c != "" || !a.IsValid() {
			fail(fmt.Sprintf("%s.%d", key("dns"), j), "%s: dns server %s is %s; give a unicast address", what, a, c)
		}
	}
	lo := 68
	if nw.CIDR6.IsValid() {
		lo = 1280
	}
	if nw.MTU != 0 && (nw.MTU < lo || nw.MTU > 1500) {
		fail(key("mtu"), "%s: mtu %d is outside %d-1500 (the lab's bridges carry 1500%s); give one in it, or none", what, nw.MTU, lo, map[bool]string{true: ", IPv6 needs 1280"}[lo == 1280])
	}
	if nw.VLAN < 0 || nw.VLAN > 4094 {
		fail(key("vlan"), "%s: vlan %d is not a VLAN id; give one from 1 to 4094, or none for an untagged network", what, nw.VLAN)
	}
	for j, r := range nw.Routes {
		rk := fmt.Sprintf("%s.%d", key("routes"), j)
		on := nw.CIDR
		if r.To.Addr().Is6() {
			on = nw.CIDR6
		}
		switch {
		case !r.To.IsValid():
			fail(rk+".to", "%s: routes[%d] has no `to:` network; give one such as 10.30.0.0/16", what, j)
		case r.To.Masked() != r.To:
			fail(rk+".to", "%s: routes[%d]: to %s has host bits set; use %s", what, j, r.To, r.To.Masked())
		case r.To.Bits() == 0:
			fail(rk+".to", "%s: routes[%d]: to %s is the default route; give the network a gateway instead", what, j, r.To)
		case !r.Via.IsValid():
			fail(rk+".via", "%s: routes[%d] to %s has no `via:`; give the router's address on this network", what, j, r.To)
		case r.Via.Is4() != r.To.Addr().Is4():
			fail(rk+".via", "%s: routes[%d]: via %s is not of the family of %s", what, j, r.Via, r.To)
		case !on.IsValid():
			fail(rk+".via", "%s: routes[%d] to %s: the network has no %s addresses to reach %s on", what, j, r.To, family(r.Via.Is6()), r.Via)
		default:
			if p := hostProblem(on, r.Via); p != "" {
				fail(rk+".via", "%s: routes[%d] to %s: via %s; the router must be on this network (the kernel installs a route only via a neighbour)", what, j, r.To, p)
			}
		}
	}
}

// nicsSeen is what earlier nodes' NICs took: addresses per network, MACs.
type nicsSeen struct {
	addrs map[string]map[netip.Addr]string
	macs  map[string]string
}

// validateNICs checks one node's NICs in the several-network form.
func (t *Topology) validateNICs(i int, n Node, used *nicsSeen, fail func(key, format string, args ...any)) {
	nodeKey := fmt.Sprintf("nodes.%d", i)
	if t.Nodes[i].legacyAddr {
		fail(nodeKey, "node %q: `ip` and `mac` belong inside `nics:` when the topology has `networks:`; move them to the node's NICs", n.Name)
	}
	if len(n.NICs) == 0 {
		fail(nodeKey, "node %q has no nics; give it at least one: {name: eth0, mac: 52:54:00:..., network: NAME, ip: ...}", n.Name)
		return
	}
	names := map[string]bool{}
	members := map[string]string{} // NIC -> its bond
	hasAddr := false
	phys := 0
	for j, c := range n.NICs {
		if c.Kind == KindPhy {
			// The guest's kernel (net.ifnames=0) names its NICs in PCI
			// slot order, which is the topology's order of them.
			if want := "eth" + strconv.Itoa(phys); c.Name != want && ifnameRE.MatchString(c.Name) {
				fail(fmt.Sprintf("%s.nics.%d.name", nodeKey, j), "node %q: nic %q is the node's physical NIC number %d, which the guest names %s (the kernel names NICs eth0, eth1, ... in order); name it %s", n.Name, c.Name, phys+1, want, want)
			}
			phys++
		}
		key := func(f string) string { return fmt.Sprintf("%s.nics.%d.%s", nodeKey, j, f) }
		bad := func(f, format string, args ...any) {
			fail(key(f), "node %q: nic %q: %s", n.Name, c.Name, fmt.Sprintf(format, args...))
		}
		if !ifnameRE.MatchString(c.Name) {
			fail(key("name"), "node %q: nics[%d]: name %q is not a Linux interface name (1-15 letters, digits, '_', '.', '-'), e.g. eth1", n.Name, j, c.Name)
		} else if names[c.Name] {
			bad("name", "named twice; give each NIC of a node its own name")
		}
		names[c.Name] = true
		nw, onNet := t.NetworkNamed(c.Network)
		if c.Network != "" && !onNet {
			bad("network", "network %q is not one of networks (have %s)", c.Network, strings.Join(t.NetworkNames(), ", "))
		}
		switch c.Kind {
		case KindPhy:
			if p := macProblem(c.MAC); p != "" {
				bad("mac", "%s", p)
			} else if other, dup := used.macs[c.MAC]; dup {
				bad("mac", "mac %s is already used by %s; give each NIC its own", c.MAC, other)
			} else {
				used.macs[c.MAC] = fmt.Sprintf("node %q", n.Name)
			}
			if onNet && nw.VLAN != 0 {
				bad("network", "network %q is tagged (vlan %d); join it with a VLAN on this NIC: {vlan_on: %s, network: %s}", c.Network, nw.VLAN, c.Name, c.Network)
			}
		case KindVLAN:
			if len(c.Bond) > 0 {
				bad("bond", "a NIC is a VLAN (vlan_on) or a bond, not both")
			}
			if c.MAC != "" {
				bad("mac", "a VLAN has its parent's MAC; remove mac")
			}
			parent, ok := n.NIC(c.VLANOn)
			switch {
			case !ok || parent.Name == c.Name:
				bad("vlan_on", "vlan_on %q is not another NIC of the node", c.VLANOn)
			case parent.Kind == KindVLAN:
				bad("vlan_on", "vlan_on %q is a VLAN itself; put the VLAN on a physical NIC or a bond", c.VLANOn)
			}
			switch {
			case c.Network == "":
				bad("network", "a VLAN needs a network; give the tagged network it joins")
			case onNet && nw.VLAN == 0:
				bad("network", "network %q is untagged (no vlan); give it `vlan: ID`, or put the NIC on it directly", c.Network)
			case onNet && ok && c.Name != c.VLANOn+"."+strconv.Itoa(nw.VLAN):
				// cloud-init names a VLAN <link>.<id> whatever the link's id.
				bad("name", "the guest names this VLAN %s.%d (cloud-init's <parent>.<vlan id>); name it so, or leave name out", c.VLANOn, nw.VLAN)
			}
		case KindBond:
			if c.MAC != "" {
				bad("mac", "a bond has its first member's MAC; remove mac")
			}
			if len(c.Bond) < 2 {
				bad("bond", "a bond needs two or more member NICs; list them: bond: [eth1, eth2]")
			}
			for _, m := range c.Bond {
				mem, ok := n.NIC(m)
				switch {
				case !ok:
					bad("bond", "member %q is not a NIC of the node", m)
				case mem.Kind != KindPhy:
					bad("bond", "member %q is a %s; bond physical NICs", m, mem.Kind)
				case mem.Network != "":
					bad("bond", "member %q is on network %q itself; a bond's member carries only the bond: remove its network", m, mem.Network)
				case members[m] != "":
					bad("bond", "member %q is already in bond %q; a NIC is in one bond", m, members[m])
				default:
					members[m] = c.Name
				}
			}
		}
		if !onNet {
			if c.IP.IsValid() || c.IP6.IsValid() {
				bad("network", "has an address but no network; give the network it is on")
			}
			continue
		}
		hasAddr = true
		addr := func(f string, a netip.Addr, p netip.Prefix, fam string) {
			switch {
			case !p.IsValid() && a.IsValid():
				bad(f, "network %q has no %s addresses (no %s); remove %s or give the network one", c.Network, fam, map[string]string{"ip": "cidr", "ip6": "cidr6"}[f], f)
			case !p.IsValid():
			case !a.IsValid():
				bad(f, "%s is missing; network %q is %s: give the NIC its address there", f, c.Network, p)
			default:
				if pr := hostProblem(p, a); pr != "" {
					bad(f, "%s %s; give a free host address inside %s", f, pr, p)
				} else if a == nw.Gateway || a == nw.Gateway6 {
					bad(f, "%s %s is the gateway's address; pick a free address", f, a)
				} else if other, dup := used.addrs[c.Network][a]; dup {
					bad(f, "%s %s is already used by node %q on network %q; give each its own", f, a, other, c.Network)
				} else {
					if used.addrs[c.Network] == nil {
						used.addrs[c.Network] = map[netip.Addr]string{}
					}
					used.addrs[c.Network][a] = n.Name
				}
			}
		}
		addr("ip", c.IP, nw.CIDR, "IPv4")
		addr("ip6", c.IP6, nw.CIDR6, "IPv6")
	}
	if !hasAddr {
		fail(nodeKey, "node %q is on no network; give one of its NICs a network and an address", n.Name)
	}
	// What carries nothing, and NICs whose VLANs would need two bridges.
	for j, c := range n.NICs {
		if c.Kind == KindVLAN || c.Network != "" || members[c.Name] != "" {
			continue
		}
		var nets []string
		for _, o := range n.NICs {
			if o.VLANOn == c.Name && !slices.Contains(nets, o.Network) {
				nets = append(nets, o.Network)
			}
		}
		key := fmt.Sprintf("%s.nics.%d", nodeKey, j)
		switch {
		case len(nets) == 0:
			fail(key, "node %q: nic %q is on no network, in no bond and carries no VLAN; give it a network or remove it", n.Name, c.Name)
		case len(nets) > 1:
			// The lab gives each network its own bridge: a NIC plugs into one.
			fail(key, "node %q: nic %q carries VLANs of networks %s; the lab gives each network its own bridge and a NIC plugs into one: give each network its own NIC", n.Name, c.Name, strings.Join(nets, " and "))
		}
	}
	for j, c := range n.NICs {
		if c.Network == "" || c.Kind == KindVLAN {
			continue
		}
		for _, o := range n.NICs {
			if o.VLANOn == c.Name && o.Network != c.Network {
				fail(fmt.Sprintf("%s.nics.%d", nodeKey, j), "node %q: nic %q is on network %q and carries a VLAN of network %q; the lab gives each network its own bridge and a NIC plugs into one: carry the VLAN on a NIC of its own", n.Name, c.Name, c.Network, o.Network)
			}
		}
	}
}

// NetworkNames lists the networks' names in order.
func (t *Topology) NetworkNames() []string {
	out := make([]string, len(t.Networks))
	for i, nw := range t.Networks {
		out[i] = nw.Name
	}
	return out
}

// macProblem says what keeps s from being a NIC's MAC, "" when nothing:
// cloud-init and libvirt compare the colon form (another spelling would
// also hide a duplicate), and the kernel refuses an all-zero address.
func macProblem(s string) string {
	if s == "" {
		return "mac is missing; give a unicast Ethernet address such as 52:54:00:64:00:19"
	}
	hw, err := net.ParseMAC(s)
	switch {
	case err != nil || len(hw) != 6 || hw[0]&1 == 1:
		return fmt.Sprintf("mac %q is not a unicast Ethernet address such as 52:54:00:64:00:19", s)
	case slices.Equal(hw, make(net.HardwareAddr, 6)):
		return fmt.Sprintf("mac %q is all zeros, which no NIC may have; give a unicast Ethernet address such as 52:54:00:64:00:19", s)
	case hw.String() != s:
		return fmt.Sprintf("mac %q is not in the colon form the guest reports; write it as %q", s, hw.String())
	}
	return ""
}

// hostProblem says what keeps a from being a host address of p ("", none).
func hostProblem(p netip.Prefix, a netip.Addr) string {
	switch {
	case !p.IsValid():
		return fmt.Sprintf("%s has no network to be in", a)
	case !p.Contains(a):
		return fmt.Sprintf("%s is outside %s", a, p)
	case a == p.Addr():
		return fmt.Sprintf("%s is the network address of %s", a, p)
	case a.Is4() && a == broadcast(p):
		return fmt.Sprintf("%s is the broadcast address of %s", a, p)
	}
	return ""
}

// addrClass6 names what keeps a from being a unicast address of a LAN.
func addrClass6(a netip.Addr) string {
	switch {
	case a.IsLoopback():
		return "a loopback address"
	case a.IsUnspecified():
		return "the unspecified address"
	case a.IsMulticast():
		return "a multicast address"
	case a.Is6() && a.IsLinkLocalUnicast():
		return "link-local"
	case a.Is4() && specialBlock(netip.PrefixFrom(a, 32)) != "":
		return "in " + specialBlock(netip.PrefixFrom(a, 32))
	}
	return ""
}

func family(v6 bool) string {
	if v6 {
		return "IPv6"
	}
	return "IPv4"
}

// SeveralNetworks reports whether the topology is written in the
// several-network form (`networks:` and each node's `nics:`).
func (t *Topology) SeveralNetworks() bool { return !t.legacy }
