package lint

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/drivelab/drivelab/framework/render"
	"github.com/drivelab/drivelab/framework/topology"
)

// nicMACs lists the node's physical NICs' MACs, for messages.
func nicMACs(n topology.Node) string {
	var macs []string
	for _, c := range n.PhysicalNICs() {
		macs = append(macs, c.MAC)
	}
	return strings.Join(macs, ", ")
}

// cloudInitKind is cloud-init's name of a topology NIC kind.
var cloudInitKind = map[string]string{topology.KindPhy: "physical", topology.KindBond: "bond", topology.KindVLAN: "vlan"}

// nicsFacts compares what cloud-init makes of a several-network node's
// network_data.json with the topology: every NIC with its kind, MAC, VLAN
// id and parent, bond members and mode, MTU; every address with its
// prefix; the one default route per family; each network's routes; the
// DNS servers. Nothing cloud-init configures beyond the topology's NICs.
func (p *Pass) nicsFacts(d render.Drive, ifaces []netIface, dns []string, eni string) {
	n := d.Node
	at := func(value, key, format string, args ...any) {
		line := 0
		if value != "" {
			line = render.LineOf(d.NetworkData, `"`+value+`"`)
		}
		if line == 0 {
			line = render.LineOf(d.NetworkData, `"`+key+`"`)
		}
		p.Reportf(d, render.NetworkDataPath, line, format, args...)
	}
	byName := map[string]netIface{}
	for _, i := range ifaces {
		byName[i.name] = i
	}
	for _, i := range ifaces {
		if _, ok := n.NIC(i.name); !ok {
			at(i.name, "links", "cloud-init configures %s %s, which is not a NIC of node %s in the topology (it has %s); remove the link or add the NIC", i.kind, i.name, n.Name, nicNames(n))
		}
	}
	for _, c := range n.NICs {
		got, ok := byName[c.Name]
		if !ok {
			at(c.Name, "links", "cloud-init configures no %s (it configures %s); the topology gives node %s a %s NIC %s: add its link", c.Name, ifaceNames(ifaces), n.Name, c.Kind, c.Name)
			continue
		}
		p.nicFacts(c, got, at)
	}
	want := make([]string, len(n.DNS))
	for i, a := range n.DNS {
		want[i] = a.String()
	}
	if !slices.Equal(dns, want) {
		value := ""
		if len(dns) > 0 {
			value = dns[0]
		}
		at(value, "services", "cloud-init gives the guest DNS servers [%s]; the topology's networks of node %s say [%s]: list them as services of type dns, in that order", strings.Join(dns, " "), n.Name, strings.Join(want, " "))
	}
	for _, c := range n.NICs {
		if c.Gateway.IsValid() && eniGateway(eni, c.Name) != c.Gateway.String() {
			at(c.Gateway.String(), "gateway", "Debian's cloud-init writes no `gateway %s` line for %s (a default route given as a route is only `post-up route add ... || true`): give the network \"gateway\": %q", c.Gateway, c.Name, c.Gateway.String())
		}
	}
}

// nicFacts compares one NIC.
func (p *Pass) nicFacts(c topology.NIC, got netIface, at func(value, key, format string, args ...any)) {
	if k := cloudInitKind[c.Kind]; got.kind != k {
		at(c.Name, "type", "cloud-init makes %s a %s interface; the topology's %s is a %s link", c.Name, got.kind, c.Name, c.Kind)
		return
	}
	switch c.Kind {
	case topology.KindPhy:
		if !strings.EqualFold(got.mac, c.MAC) {
			at(got.mac, "ethernet_mac_address", "cloud-init matches %s by MAC %s; the topology's %s is %s", c.Name, got.mac, c.Name, c.MAC)
		}
	case topology.KindVLAN:
		if got.vlanID != c.VLAN {
			at(c.Name, "vlan_id", "cloud-init tags %s with VLAN %d; its network %q is VLAN %d: give the link \"vlan_id\": %d", c.Name, got.vlanID, c.Network, c.VLAN, c.VLAN)
		}
		if got.vlanLink != c.VLANOn {
			at(got.vlanLink, "vlan_link", "cloud-init puts VLAN %s on %s; the topology puts it on %s", c.Name, got.vlanLink, c.VLANOn)
		}
	case topology.KindBond:
		if !slices.Equal(slices.Sorted(slices.Values(got.bondMembers)), slices.Sorted(slices.Values(c.Bond))) {
			at(c.Name, "bond_links", "cloud-init bonds [%s] into %s; the topology's members are [%s]", strings.Join(got.bondMembers, " "), c.Name, strings.Join(c.Bond, " "))
		}
		if got.bondMode != "active-backup" {
			at(c.Name, "bond_mode", "cloud-init gives %s bond mode %q; the topology's bonds are active-backup", c.Name, got.bondMode)
		}
	}
	p.mtu(c.Name+"'s mtu", got.mtu, c.IP6.IsValid(), func(format string, args ...any) { at("", "mtu", format, args...) })
	if mtu := mtuOf(got.mtu); mtu != c.MTU && !(c.MTU == 0 && mtu == maxMTU) {
		at("", "mtu", "cloud-init gives %s MTU %s; its network %q has %s", c.Name, mtuText(mtu), c.Network, mtuText(c.MTU))
	}
	for _, v6 := range []bool{false, true} {
		want, prefix, gw := c.IP, c.Prefix, c.Gateway
		kind := "static"
		if v6 {
			want, prefix, gw, kind = c.IP6, c.Prefix6, c.Gateway6, "static6"
		}
		var subs []netSubnet
		for _, s := range got.subnets {
			if s.v6 == v6 {
				subs = append(subs, s)
			}
		}
		fam := family(v6)
		if !want.IsValid() {
			if len(subs) > 0 {
				at(subs[0].address, "networks", "cloud-init gives %s %d %s network(s); the topology gives it no %s address: remove them", c.Name, len(subs), fam, fam)
			}
			continue
		}
		if len(subs) != 1 || subs[0].kind != kind {
			at(want.String(), "networks", "cloud-init gives %s %d %s network(s); the topology wants one static address %s", c.Name, len(subs), fam, prefix)
			continue
		}
		s := subs[0]
		if a, err := netip.ParseAddr(s.address); err != nil || a != want {
			at(s.address, "ip_address", "cloud-init gives %s %s address %s; the topology says %s", c.Name, fam, s.address, want)
		}
		if s.prefix != prefix.Bits() {
			at(s.address, "netmask", "cloud-init gives %s %s prefix /%d; its network %q is /%d", c.Name, fam, s.prefix, c.Network, prefix.Bits())
		}
		switch {
		case gw.IsValid() && s.gateway != gw.String():
			at(s.gateway, "gateway", "cloud-init gives %s %s gateway %q; it holds node's default %s route, via %s", c.Name, fam, s.gateway, fam, gw)
		case !gw.IsValid() && s.gateway != "":
			at(s.gateway, "gateway", "cloud-init gives %s %s gateway %s, a second default route or one the topology does not have; the node's default %s route is on another NIC or none: remove it", c.Name, fam, s.gateway, fam)
		}
		var routes, wantRoutes []string
		for _, r := range s.routes {
			p.route(r, v6, at)
			routes = append(routes, fmt.Sprintf("%s/%d via %s", r.network, r.prefix, r.gateway))
		}
		for _, r := range c.Routes {
			if r.To.Addr().Is6() == v6 {
				wantRoutes = append(wantRoutes, fmt.Sprintf("%s via %s", r.To, r.Via))
			}
		}
		slices.Sort(routes)
		slices.Sort(wantRoutes)
		if !slices.Equal(routes, wantRoutes) {
			at("", "routes", "cloud-init gives %s the %s routes [%s]; its network %q has [%s]", c.Name, fam, strings.Join(routes, ", "), c.Network, strings.Join(wantRoutes, ", "))
		}
	}
}

// mtuOf is an MTU as network_data.json gave it, 0 for none or not a number.
func mtuOf(v any) int {
	switch x := v.(type) {
	case float64:
		return int(x)
	case string:
		var n int
		fmt.Sscan(strings.TrimSpace(x), &n)
		return n
	}
	return 0
}

func mtuText(mtu int) string {
	if mtu == 0 {
		return "none (1500)"
	}
	return fmt.Sprint(mtu)
}

func nicNames(n topology.Node) string {
	var names []string
	for _, c := range n.NICs {
		names = append(names, c.Name)
	}
	return strings.Join(names, ", ")
}

func ifaceNames(ifaces []netIface) string {
	var names []string
	for _, i := range ifaces {
		names = append(names, i.name)
	}
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}
