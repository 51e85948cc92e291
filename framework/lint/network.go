package lint

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/drivelab/drivelab/framework/render"
)

// What the guest's kernel and ifupdown accept of eth0's settings, beyond
// what cloud-init's converter checks (it passes an MTU of 100000 or a
// loopback route straight into /etc/network/interfaces.d).

const (
	// minMTU4 and minMTU6 are the smallest MTUs IPv4 (RFC 791) and IPv6
	// (RFC 8200) work over; below 1280 the kernel removes eth0's IPv6.
	minMTU4, minMTU6 = 68, 1280
	// maxMTU is the MTU of the bridge the lab creates and of every node's
	// tap on it: larger frames between nodes are dropped on the bridge.
	maxMTU = 1500
)

// netFacts is what the guest's network configuration says about eth0.
type netFacts struct {
	found      bool
	others     []string
	mac        string
	mtu        any // as network_data.json gave it: a number, a string or nil
	subnets    []netSubnet
	eniGateway string
}

// netIface is one interface cloud-init configures from network_data.json.
type netIface struct {
	name, kind, mac string // kind: physical, bond, vlan
	mtu             any
	vlanID          int // -1 when none
	vlanLink        string
	bondMembers     []string
	bondMode        string
	subnets         []netSubnet
}

// eth0Facts picks eth0 out of what cloud-init configures (one network, one NIC).
func eth0Facts(ifaces []netIface, eni string) netFacts {
	var got netFacts
	for _, iface := range ifaces {
		if iface.name != "eth0" {
			got.others = append(got.others, iface.name)
			continue
		}
		got.found, got.mac, got.mtu, got.subnets = true, iface.mac, iface.mtu, iface.subnets
	}
	got.eniGateway = eniGateway(eni, "eth0")
	return got
}

type netSubnet struct {
	kind             string // cloud-init's subnet type: static, static6, dhcp4, ...
	v6               bool
	address, gateway string
	prefix           int // -1 when none
	routes           []netRoute
}

type netRoute struct {
	network, gateway string
	prefix           int // -1 when none
}

// eniGateway is the gateway line of iface's IPv4 stanza in the rendered
// /etc/network/interfaces.d file ("" when none).
func eniGateway(eni, iface string) string {
	in := false
	for _, line := range strings.Split(eni, "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) >= 3 && f[0] == "iface":
			in = f[1] == iface && f[2] == "inet"
		case in && len(f) == 2 && f[0] == "gateway":
			return f[1]
		}
	}
	return ""
}

func family(v6 bool) string {
	if v6 {
		return "IPv6"
	}
	return "IPv4"
}

func (p *Pass) networkFacts(d render.Drive, got netFacts) {
	n, net := d.Node, p.Topology.Network
	at := func(key, format string, args ...any) {
		p.Reportf(d, render.NetworkDataPath, render.LineOf(d.NetworkData, `"`+key+`"`), format, args...)
	}
	// atValue locates a problem at the line holding a value, else a key.
	atValue := func(value, key, format string, args ...any) {
		line := 0
		if value != "" {
			// The whole JSON string, or an address with its /prefix.
			if line = render.LineOf(d.NetworkData, `"`+value+`"`); line == 0 {
				line = render.LineOf(d.NetworkData, `"`+value+`/`)
			}
		}
		if line == 0 {
			line = render.LineOf(d.NetworkData, `"`+key+`"`)
		}
		p.Reportf(d, render.NetworkDataPath, line, format, args...)
	}
	if !got.found {
		at("links", "cloud-init configures no eth0 from it (interfaces: %s); give one link with the node's MAC %s", strings.Join(got.others, ", "), n.MAC)
		return
	}
	if !strings.EqualFold(got.mac, n.MAC) {
		at("ethernet_mac_address", "cloud-init matches eth0 by MAC %s; the node's NIC is %s", got.mac, n.MAC)
	}
	var v4, v6 []netSubnet
	for _, s := range got.subnets {
		if s.v6 {
			v6 = append(v6, s)
		} else {
			v4 = append(v4, s)
		}
	}
	p.mtu("mtu", got.mtu, len(v6) > 0, func(format string, args ...any) { at("mtu", format, args...) })
	// Every default route, per family: ifupdown adds each; a second one
	// either fails ifup (RTNETLINK answers: File exists) or leaves two.
	defaults := map[bool][]string{}
	second := map[bool]string{} // the value of the second default route, located
	add := func(v6 bool, what, value string) {
		if defaults[v6] = append(defaults[v6], what); len(defaults[v6]) == 2 {
			second[v6] = value
		}
	}
	for _, s := range got.subnets {
		if s.gateway != "" {
			add(s.v6, fmt.Sprintf("\"gateway\": %q", s.gateway), s.gateway)
		}
		for _, rt := range s.routes {
			p.route(rt, s.v6, atValue)
			if rt.prefix == 0 {
				add(s.v6, fmt.Sprintf("route %s/0 via %s", rt.network, rt.gateway), rt.gateway)
			}
		}
	}
	for _, v := range []bool{false, true} {
		if len(defaults[v]) > 1 {
			keep := fmt.Sprintf("keep the network's \"gateway\": %q and remove the others", net.Gateway)
			if v {
				keep = "keep one \"gateway\" on one IPv6 network and remove the others"
			}
			atValue(second[v], "gateway", "eth0 would get %d %s default routes (%s); the guest has one default route per family: %s",
				len(defaults[v]), family(v), strings.Join(defaults[v], ", "), keep)
		}
	}
	for _, s := range v6 {
		p.ipv6Subnet(s, atValue)
	}
	if len(v4) != 1 || v4[0].kind != "static" {
		last := ""
		if len(v4) > 0 {
			last = v4[len(v4)-1].kind
		}
		at("networks", "cloud-init gives eth0 %d IPv4 network(s), the last %q; the topology wants one static IPv4 address %s/%d (an IPv6 network beside it may stay)", len(v4), last, n.IP, net.CIDR.Bits())
		return
	}
	s := v4[0]
	if addr, err := netip.ParseAddr(s.address); err != nil || addr != n.IP {
		at("ip_address", "cloud-init gives eth0 address %s; the topology says %s", s.address, n.IP)
	}
	if s.prefix != net.CIDR.Bits() {
		at("netmask", "cloud-init gives eth0 prefix /%d; the topology's network is %s (/%d)", s.prefix, net.CIDR, net.CIDR.Bits())
	}
	gw := s.gateway
	if gw == "" {
		for _, rt := range s.routes {
			if rt.prefix == 0 {
				gw = rt.gateway
			}
		}
	}
	switch {
	case len(defaults[false]) > 1:
		// Reported above.
	case gw == "":
		at("networks", "cloud-init sets no default gateway on eth0; the topology's gateway is %s: add \"gateway\" to the network", net.Gateway)
	case gw != net.Gateway.String():
		at("gateway", "cloud-init sets default gateway %s on eth0; the topology's gateway is %s", gw, net.Gateway)
	case got.eniGateway != gw:
		at("routes", "Debian's cloud-init writes the default route via %s only as `post-up route add ... || true`, which does nothing without net-tools (not in the image); give the network \"gateway\": %q instead of a route", gw, gw)
	}
}

// mtu checks an MTU against what the kernel and the lab's bridge take;
// none (the NIC's 1500) is fine.
func (p *Pass) mtu(name string, v any, ipv6 bool, report func(format string, args ...any)) {
	var mtu int
	switch x := v.(type) {
	case nil:
		return
	case float64:
		if x != float64(int(x)) {
			report("%s %v is not a whole number; give one from %d to %d, e.g. %d, or none", name, x, minMTU4, maxMTU, maxMTU)
			return
		}
		mtu = int(x)
	case string:
		var err error
		if mtu, err = strconv.Atoi(strings.TrimSpace(x)); err != nil {
			report("%s %q is not a number; give one from %d to %d, e.g. %d, or none", name, x, minMTU4, maxMTU, maxMTU)
			return
		}
	default:
		report("%s %v is not a number; give one from %d to %d, e.g. %d, or none", name, x, minMTU4, maxMTU, maxMTU)
		return
	}
	lo, why := minMTU4, "IPv4's minimum"
	if ipv6 {
		lo, why = minMTU6, "IPv6's minimum, and eth0 has an IPv6 address"
	}
	switch {
	case mtu < lo:
		report("%s %d is below %d (%s); give one from %d to %d, e.g. %d, or none", name, mtu, lo, why, lo, maxMTU, maxMTU)
	case mtu > maxMTU:
		report("%s %d is above %d, the MTU of the lab's bridge and of each node's tap: larger frames between nodes are dropped; give one from %d to %d, e.g. %d, or none", name, mtu, maxMTU, lo, maxMTU, maxMTU)
	}
}

// addrClass names what keeps a from being a host's unicast address
// (loopback, unspecified, multicast, broadcast), "" when nothing does.
func addrClass(a netip.Addr) string {
	switch {
	case a.IsLoopback():
		return "a loopback address"
	case a.IsUnspecified():
		return "the unspecified (all-zero) address"
	case a.IsMulticast():
		return "a multicast address"
	case a.Is4() && a == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		return "the broadcast address"
	case a.Is4() && a.As4()[0] == 0:
		return "in 0.0.0.0/8 (\"this network\")"
	case a.Is4() && a.As4()[0] >= 240:
		return "in 240.0.0.0/4 (reserved)"
	case a.Is4In6():
		return "an IPv4-mapped address"
	}
	return ""
}

// route refuses a route the kernel would not install or that would send
// loopback, multicast or reserved traffic out of eth0.
func (p *Pass) route(rt netRoute, v6 bool, at func(value, key, format string, args ...any)) {
	net, err := netip.ParseAddr(rt.network)
	switch {
	case err != nil:
		at(rt.network, "network", "route network %q is not an %s address; give a network such as %s", rt.network, family(v6), map[bool]string{false: "10.1.0.0", true: "fd00:1::"}[v6])
		return
	case rt.prefix == 0:
		// The default route: its network is the zero address.
	case addrClass(net) != "":
		at(rt.network, "network", "route to %s/%d: %s is %s, which no route may send out of eth0; remove the route", rt.network, rt.prefix, rt.network, addrClass(net))
	}
	gw, err := netip.ParseAddr(rt.gateway)
	switch {
	case rt.gateway == "":
	case err != nil:
		at(rt.gateway, "gateway", "route to %s/%d via %q: the gateway is not an address; give the router's address on eth0's network", rt.network, rt.prefix, rt.gateway)
	case addrClass(gw) != "":
		at(rt.gateway, "gateway", "route to %s/%d via %s: the gateway is %s; give the router's address on eth0's network", rt.network, rt.prefix, rt.gateway, addrClass(gw))
	}
}

// ipv6Subnet wants an IPv6 network beside the IPv4 one (dual-stack) to be
// static (the lab has no DHCPv6 server or router advertisements) with a
// host address and, if it has one, an on-link gateway.
func (p *Pass) ipv6Subnet(s netSubnet, at func(value, key, format string, args ...any)) {
	if s.kind != "static6" {
		at("", "networks", "cloud-init gives eth0 an IPv6 network of type %q; the lab has no DHCPv6 server or router advertisements: give it type \"ipv6\" with an \"ip_address\", or remove it", s.kind)
		return
	}
	a, err := netip.ParseAddr(s.address)
	switch {
	case err != nil || !a.Is6() || a.Is4In6():
		at(s.address, "ip_address", "IPv6 address %q is not an IPv6 address; give one such as fd00::25", s.address)
		return
	case addrClass(a) != "":
		at(s.address, "ip_address", "IPv6 address %s is %s; give eth0 a unicast address such as fd00::25", s.address, addrClass(a))
		return
	case s.prefix < 1 || s.prefix > 128:
		at(s.address, "netmask", "IPv6 address %s has prefix /%d; give a prefix from /1 to /128, e.g. /64", s.address, s.prefix)
		return
	}
	if s.gateway == "" {
		return
	}
	gw, err := netip.ParseAddr(s.gateway)
	on := netip.PrefixFrom(a, s.prefix).Masked()
	switch {
	case err != nil || !gw.Is6():
		at(s.gateway, "gateway", "IPv6 gateway %q is not an IPv6 address; give the router's address in %s, or a link-local one such as fe80::1", s.gateway, on)
	case addrClass(gw) != "":
		at(s.gateway, "gateway", "IPv6 gateway %s is %s; give the router's address in %s, or a link-local one such as fe80::1", s.gateway, addrClass(gw), on)
	case gw == a:
		at(s.gateway, "gateway", "IPv6 gateway %s is eth0's own address; give the router's address in %s", s.gateway, on)
	case !gw.IsLinkLocalUnicast() && !on.Contains(gw):
		// The kernel installs a route only via a next hop it can reach.
		at(s.gateway, "gateway", "IPv6 gateway %s is outside eth0's network %s; the kernel would refuse the default route: give the router's address in %s, or a link-local one such as fe80::1", s.gateway, on, on)
	}
}

// networkConfigDirs hold network configurations of other readers (ifupdown,
// netplan, systemd-networkd, NetworkManager) than the two lint reads.
var networkConfigDirs = []string{"/etc/network/", "/etc/netplan/", "/etc/systemd/network/", "/etc/NetworkManager/", "/etc/sysconfig/network-scripts/"}

// networkFile refuses a network configuration no reader of lint's
// understands: the checks of it would otherwise silently not run. The
// topology's "network" file is network_data.json or an ifcfg file; no
// other file may configure the network beside it.
func (p *Pass) networkFile(d render.Drive) {
	for _, c := range d.Content {
		if isIfcfg(c.GuestPath) || c.Data == nil && c.Name != "network" {
			continue
		}
		other := false
		for _, dir := range networkConfigDirs {
			other = other || strings.HasPrefix(c.GuestPath, dir) || c.GuestPath == strings.TrimSuffix(dir, "/")
		}
		if c.Name != "network" && !other {
			continue
		}
		p.add(d.Node.Name, d.Templates[render.ContentFile(c.ContentPath)], 0,
			"file %q goes to %s, which neither cloud-init's network_data.json converter nor its ifcfg parser reads, so lint cannot check it against the topology; in the flavor, map network to {network_data: network_data.json.tmpl} (Debian) or {path: /etc/sysconfig/network-scripts/ifcfg-eth0, template: ifcfg-eth0.tmpl} (CentOS), and carry no other network configuration",
			c.Name, c.GuestPath)
	}
}
