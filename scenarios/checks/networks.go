package checks

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/drivelab/drivelab/framework/topology"
	"github.com/drivelab/drivelab/framework/verify"
)

// The checks of a node's networks as the guest's kernel has them: its
// interfaces (NICs), its routes, its DNS servers, and whom it reaches. Each
// compares with the topology, whatever the templates said.

// ipLink is one interface of `ip -j -d addr show`.
type ipLink struct {
	Name  string   `json:"ifname"`
	Flags []string `json:"flags"`
	MTU   int      `json:"mtu"`
	MAC   string   `json:"address"`
	// PermAddr is a NIC's own MAC when it has taken another (a bond's
	// member takes the bond's).
	PermAddr string `json:"permaddr"`
	Link     string `json:"link"`   // a VLAN's parent
	Master   string `json:"master"` // a bond member's bond
	LinkInfo struct {
		Kind string `json:"info_kind"`
		Data struct {
			ID   int    `json:"id"`   // VLAN id
			Mode string `json:"mode"` // bond mode
		} `json:"info_data"`
	} `json:"linkinfo"`
	Addrs []struct {
		Family    string `json:"family"`
		Local     string `json:"local"`
		PrefixLen int    `json:"prefixlen"`
		Scope     string `json:"scope"`
		Dynamic   bool   `json:"dynamic"`
	} `json:"addr_info"`
}

// NICs: every NIC of the topology exists on the node as its kind says (a
// physical NIC with its MAC, a VLAN with its id on its parent, an
// active-backup bond of its members), is up, has its network's MTU and
// exactly its static addresses; no other interface has a global address.
func NICs(ctx context.Context, env *verify.Env, node topology.Node) error {
	c, err := Root(env, node)
	if err != nil {
		return err
	}
	out, err := Run(ctx, env, c, "ip -j -d addr show")
	if err != nil {
		return err
	}
	return checkNICs(node, out)
}

func checkNICs(node topology.Node, out string) error {
	var links []ipLink
	if err := json.Unmarshal([]byte(out), &links); err != nil {
		return fmt.Errorf("ip -j -d addr show: %w: %.200q", err, out)
	}
	byName := map[string]ipLink{}
	for _, l := range links {
		byName[l.Name] = l
	}
	var bad []string
	say := func(format string, args ...any) { bad = append(bad, fmt.Sprintf(format, args...)) }
	for _, c := range node.NICs {
		l, ok := byName[c.Name]
		if !ok {
			say("no interface %s (the %s NIC of the topology)", c.Name, c.Kind)
			continue
		}
		switch c.Kind {
		case topology.KindPhy:
			if mac := cmp.Or(l.PermAddr, l.MAC); !strings.EqualFold(mac, c.MAC) {
				say("%s has MAC %s, expected %s", c.Name, mac, c.MAC)
			}
		case topology.KindVLAN:
			if l.LinkInfo.Kind != "vlan" || l.LinkInfo.Data.ID != c.VLAN || l.Link != c.VLANOn {
				say("%s is %s id %d on %q, expected VLAN %d on %s", c.Name, cmp.Or(l.LinkInfo.Kind, "no VLAN"), l.LinkInfo.Data.ID, l.Link, c.VLAN, c.VLANOn)
			}
		case topology.KindBond:
			var members []string
			for _, m := range links {
				if m.Master == c.Name {
					members = append(members, m.Name)
				}
			}
			slices.Sort(members)
			want := slices.Sorted(slices.Values(c.Bond))
			if l.LinkInfo.Kind != "bond" || l.LinkInfo.Data.Mode != "active-backup" || !slices.Equal(members, want) {
				say("%s is %s mode %q of [%s], expected an active-backup bond of [%s]", c.Name, cmp.Or(l.LinkInfo.Kind, "no bond"), l.LinkInfo.Data.Mode, strings.Join(members, " "), strings.Join(want, " "))
			}
		}
		if !slices.Contains(l.Flags, "UP") || !slices.Contains(l.Flags, "LOWER_UP") {
			say("%s is not up (flags %s)", c.Name, strings.Join(l.Flags, ","))
		}
		if want := cmp.Or(c.MTU, 1500); l.MTU != want {
			say("%s has MTU %d, expected %d", c.Name, l.MTU, want)
		}
		for _, fam := range []struct {
			name string
			want netip.Prefix
		}{{"inet", c.Prefix}, {"inet6", c.Prefix6}} {
			var got []string
			for _, a := range l.Addrs {
				if a.Family == fam.name && a.Scope == "global" {
					got = append(got, fmt.Sprintf("%s/%d", a.Local, a.PrefixLen))
					if a.Dynamic {
						say("%s's address %s/%d is dynamic (DHCP or SLAAC), expected static", c.Name, a.Local, a.PrefixLen)
					}
				}
			}
			var want []string
			if fam.want.IsValid() {
				want = []string{fam.want.String()}
			}
			if !slices.Equal(got, want) {
				say("%s's %s addresses are [%s], expected [%s]", c.Name, fam.name, strings.Join(got, " "), strings.Join(want, " "))
			}
		}
	}
	for _, l := range links {
		if _, ok := node.NIC(l.Name); ok || l.Name == "lo" {
			continue
		}
		for _, a := range l.Addrs {
			if a.Scope == "global" {
				say("%s, which is no NIC of the topology, has address %s/%d", l.Name, a.Local, a.PrefixLen)
			}
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("%s", strings.Join(bad, "; "))
	}
	return nil
}

// ipRoute is one route of `ip -j route show`.
type ipRoute struct {
	Dst      string `json:"dst"`
	Gateway  string `json:"gateway"`
	Dev      string `json:"dev"`
	Protocol string `json:"protocol"`
}

// Routes: per family, one default route via the gateway of the NIC that
// holds it (none when the node's networks have no gateway), each network's
// extra routes via their router on the NIC on that network, and no route
// the topology does not give.
func Routes(ctx context.Context, env *verify.Env, node topology.Node) error {
	c, err := Root(env, node)
	if err != nil {
		return err
	}
	f, err := Facts(ctx, env, c, "ip -j -4 route show table main", "ip -j -6 route show table main")
	if err != nil {
		return err
	}
	return checkRoutes(node, f[0], f[1])
}

func checkRoutes(node topology.Node, v4, v6 string) error {
	var bad []string
	for i, out := range []string{v4, v6} {
		isV6 := i == 1
		var routes []ipRoute
		if err := json.Unmarshal([]byte(strings.TrimSpace(out)), &routes); err != nil {
			return fmt.Errorf("ip -j route: %w: %.200q", err, out)
		}
		var want []ipRoute
		for _, c := range node.NICs {
			gw := c.Gateway
			if isV6 {
				gw = c.Gateway6
			}
			if gw.IsValid() {
				want = append(want, ipRoute{Dst: "default", Gateway: gw.String(), Dev: c.Name})
			}
			for _, r := range c.Routes {
				if r.To.Addr().Is6() == isV6 {
					want = append(want, ipRoute{Dst: r.To.String(), Gateway: r.Via.String(), Dev: c.Name})
				}
			}
		}
		var got []ipRoute
		for _, r := range routes {
			// The kernel's own routes to the networks a NIC is on, and
			// IPv6's link-local and multicast ones, go with the addresses.
			if r.Protocol == "kernel" || strings.HasPrefix(r.Dst, "fe80:") || strings.HasPrefix(r.Dst, "ff00:") {
				continue
			}
			got = append(got, ipRoute{Dst: r.Dst, Gateway: r.Gateway, Dev: r.Dev})
		}
		for _, w := range want {
			if !slices.Contains(got, w) {
				bad = append(bad, fmt.Sprintf("no %s route %s via %s dev %s", family(isV6), w.Dst, w.Gateway, w.Dev))
			}
		}
		for _, g := range got {
			if !slices.Contains(want, g) {
				bad = append(bad, fmt.Sprintf("%s route %s via %s dev %s is not the topology's", family(isV6), g.Dst, cmp.Or(g.Gateway, "-"), g.Dev))
			}
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("%s", strings.Join(bad, "; "))
	}
	return nil
}

// DNS: /etc/resolv.conf names exactly the DNS servers of the node's
// networks, in topology order.
func DNS(ctx context.Context, env *verify.Env, node topology.Node) error {
	c, err := Root(env, node)
	if err != nil {
		return err
	}
	out, err := Run(ctx, env, c, "cat /etc/resolv.conf")
	if err != nil {
		return err
	}
	return checkDNS(node, out)
}

func checkDNS(node topology.Node, resolvConf string) error {
	var got, want []string
	for _, line := range strings.Split(resolvConf, "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "nameserver" {
			got = append(got, f[1])
		}
	}
	for _, a := range node.DNS {
		want = append(want, a.String())
	}
	if !slices.Equal(got, want) {
		return fmt.Errorf("/etc/resolv.conf names DNS servers [%s], expected [%s]", strings.Join(got, " "), strings.Join(want, " "))
	}
	return nil
}

// Reach: the node reaches (a ping answers) every address of every other
// node on a network it shares with it, on both families, and no other one:
// the run's networks meet only in nodes on both.
func Reach(ctx context.Context, env *verify.Env, node topology.Node) error {
	c, err := Root(env, node)
	if err != nil {
		return err
	}
	var cmd strings.Builder
	targets := reachTargets(env.Topology, node)
	for _, t := range targets {
		// All at once, so the unreachable ones cost one timeout together.
		fmt.Fprintf(&cmd, "(ping -n -c 1 -W 3 %s >/dev/null 2>&1 && echo %s yes || echo %s no) & ", t.addr, t.addr, t.addr)
	}
	cmd.WriteString("wait")
	out, err := Run(ctx, env, c, cmd.String())
	if err != nil {
		return err
	}
	return checkReach(node, targets, out)
}

type reachTarget struct {
	node string
	addr netip.Addr
	want bool
}

func reachTargets(topo *topology.Topology, from topology.Node) []reachTarget {
	var out []reachTarget
	for _, to := range topo.Nodes {
		if to.Name == from.Name {
			continue
		}
		for _, c := range to.NICs {
			for _, a := range []netip.Addr{c.IP, c.IP6} {
				if a.IsValid() {
					out = append(out, reachTarget{node: to.Name, addr: a, want: topo.Reaches(from, to, a)})
				}
			}
		}
	}
	return out
}

func checkReach(from topology.Node, targets []reachTarget, out string) error {
	got := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) == 2 {
			got[f[0]] = f[1]
		}
	}
	var bad []string
	for _, t := range targets {
		switch g := got[t.addr.String()]; {
		case g == "":
			bad = append(bad, fmt.Sprintf("no answer about %s (%s)", t.addr, t.node))
		case t.want && g != "yes":
			bad = append(bad, fmt.Sprintf("%s does not reach %s (%s), on a network they share", from.Name, t.addr, t.node))
		case !t.want && g == "yes":
			bad = append(bad, fmt.Sprintf("%s reaches %s (%s), on a network it is not on", from.Name, t.addr, t.node))
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("%s", strings.Join(bad, "; "))
	}
	return nil
}

func family(v6 bool) string {
	if v6 {
		return "IPv6"
	}
	return "IPv4"
}
