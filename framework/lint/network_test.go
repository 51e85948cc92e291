package lint

import (
	"fmt"
	"strings"
	"testing"

	"github.com/drivelab/drivelab/framework/render"
)

// collect returns a report function and the messages it received.
func collect() (func(string, ...any), *[]string) {
	var got []string
	return func(format string, args ...any) { got = append(got, fmt.Sprintf(format, args...)) }, &got
}

func TestMTU(t *testing.T) {
	for _, c := range []struct {
		v    any
		ipv6 bool
		want string // "" when accepted
	}{
		{nil, false, ""},
		{float64(1500), false, ""},
		{float64(68), false, ""},
		{float64(1280), true, ""},
		{"1500", false, ""},
		{float64(67), false, "mtu 67 is below 68"},
		{float64(1279), true, "mtu 1279 is below 1280"},
		{float64(1501), false, "mtu 1501 is above 1500"},
		{float64(100000), false, "mtu 100000 is above 1500"},
		{float64(1500.5), false, "is not a whole number"},
		{"jumbo", false, `mtu "jumbo" is not a number`},
		{true, false, "is not a number"},
	} {
		report, got := collect()
		(&Pass{}).mtu("mtu", c.v, c.ipv6, report)
		switch {
		case c.want == "" && len(*got) > 0:
			t.Errorf("mtu %v (ipv6 %v) refused: %v", c.v, c.ipv6, *got)
		case c.want != "" && (len(*got) != 1 || !strings.Contains((*got)[0], c.want)):
			t.Errorf("mtu %v (ipv6 %v): %v, want %q", c.v, c.ipv6, *got, c.want)
		}
	}
}

func TestRouteAndIPv6Subnet(t *testing.T) {
	check := func(name string, run func(at func(value, key, format string, args ...any)), want string) {
		t.Helper()
		var got []string
		run(func(_, _, format string, args ...any) { got = append(got, fmt.Sprintf(format, args...)) })
		switch {
		case want == "" && len(got) > 0:
			t.Errorf("%s refused: %v", name, got)
		case want != "" && (len(got) != 1 || !strings.Contains(got[0], want)):
			t.Errorf("%s: %v, want %q", name, got, want)
		}
	}
	p := &Pass{}
	routes := map[netRoute]string{
		{network: "10.1.0.0", prefix: 16, gateway: "192.168.100.2"}:      "",
		{network: "0.0.0.0", prefix: 0, gateway: "192.168.100.1"}:        "",
		{network: "127.0.0.0", prefix: 8, gateway: "192.168.100.2"}:      "is a loopback address",
		{network: "224.0.0.0", prefix: 4, gateway: "192.168.100.2"}:      "is a multicast address",
		{network: "240.0.0.0", prefix: 4, gateway: "192.168.100.2"}:      "240.0.0.0/4 (reserved)",
		{network: "10.1.0.0", prefix: 16, gateway: "255.255.255.255"}:    "the gateway is the broadcast address",
		{network: "10.1.0.0", prefix: 16, gateway: "0.0.0.0"}:            "the unspecified (all-zero) address",
		{network: "ten", prefix: 16, gateway: "192.168.100.2"}:           "is not an IPv4 address",
		{network: "10.1.0.0", prefix: 16, gateway: "router"}:             "the gateway is not an address",
		{network: "fd00:1::", prefix: 64, gateway: "fe80::1"}:            "",
		{network: "ff00::", prefix: 8, gateway: "fe80::1"}:               "is a multicast address",
		{network: "::ffff:10.0.0.0", prefix: 104, gateway: "fe80::1"}:    "IPv4-mapped",
		{network: "fd00:1::", prefix: 64, gateway: "::1"}:                "is a loopback address",
		{network: "fd00:1::", prefix: 64, gateway: "ff02::2"}:            "is a multicast address",
		{network: "fd00:1::", prefix: 64, gateway: "0.0.0.0"}:            "unspecified",
		{network: "10.1.0.0", prefix: 16, gateway: ""}:                   "",
		{network: "0.0.0.0", prefix: 8, gateway: "192.168.100.2"}:        "unspecified",
		{network: "192.168.100.0", prefix: 24, gateway: "192.168.100.2"}: "",
	}
	for rt, want := range routes {
		check(fmt.Sprintf("route %+v", rt), func(at func(string, string, string, ...any)) { p.route(rt, strings.Contains(rt.network, ":"), at) }, want)
	}
	subnets := []struct {
		s    netSubnet
		want string
	}{
		{netSubnet{kind: "static6", address: "fd00::25", prefix: 64}, ""},
		{netSubnet{kind: "static6", address: "fd00::25", prefix: 64, gateway: "fd00::1"}, ""},
		{netSubnet{kind: "static6", address: "fd00::25", prefix: 64, gateway: "fe80::1"}, ""},
		{netSubnet{kind: "static6", address: "2001:db8::25", prefix: 128}, ""},
		{netSubnet{kind: "dhcp6"}, "no DHCPv6 server"},
		{netSubnet{kind: "ipv6_slaac"}, "router advertisements"},
		{netSubnet{kind: "static6", address: "::1", prefix: 128}, "is a loopback address"},
		{netSubnet{kind: "static6", address: "::", prefix: 64}, "unspecified"},
		{netSubnet{kind: "static6", address: "ff02::1", prefix: 64}, "is a multicast address"},
		{netSubnet{kind: "static6", address: "10.0.0.1", prefix: 64}, "is not an IPv6 address"},
		{netSubnet{kind: "static6", address: "::ffff:10.0.0.1", prefix: 64}, "is not an IPv6 address"},
		{netSubnet{kind: "static6", address: "fd00::25", prefix: 0}, "prefix /0"},
		{netSubnet{kind: "static6", address: "fd00::25", prefix: 129}, "prefix /129"},
		{netSubnet{kind: "static6", address: "fd00::25", prefix: 64, gateway: "fd01::1"}, "outside eth0's network fd00::/64"},
		{netSubnet{kind: "static6", address: "fd00::25", prefix: 64, gateway: "fd00::25"}, "eth0's own address"},
		{netSubnet{kind: "static6", address: "fd00::25", prefix: 64, gateway: "ff02::2"}, "is a multicast address"},
		{netSubnet{kind: "static6", address: "fd00::25", prefix: 64, gateway: "10.0.0.1"}, "is not an IPv6 address"},
	}
	for _, c := range subnets {
		s := c.s
		s.v6 = true
		check(fmt.Sprintf("subnet %+v", s), func(at func(string, string, string, ...any)) { p.ipv6Subnet(s, at) }, c.want)
	}
}

func TestEniGatewayIsIPv4s(t *testing.T) {
	eni := "auto eth0\niface eth0 inet6 static\n    address fd00::25/64\n    gateway fd00::1\n\niface eth0 inet static\n    address 192.168.100.25/24\n    gateway 192.168.100.1\n"
	if got := eniGateway(eni, "eth0"); got != "192.168.100.1" {
		t.Errorf("eniGateway = %q, want the IPv4 stanza's 192.168.100.1", got)
	}
}

// A network configuration lint has no reader for is refused, whether it is
// the topology's network file or another file beside it.
func TestNetworkFileWithoutReader(t *testing.T) {
	for path, refused := range map[string]bool{
		"/etc/network/interfaces.d/eth0":              true,
		"/etc/network/interfaces":                     true,
		"/etc/netplan/50-cloud.yaml":                  true,
		"/etc/systemd/network/10-eth0.network":        true,
		"/etc/NetworkManager/system-connections/eth0": true,
		"/etc/sysconfig/network-scripts/route-eth0":   true,
		"/etc/sysconfig/network-scripts/ifcfg-eth0":   false,
		"/etc/hosts":                   false,
		"/var/tmp/drivelab/index.html": false,
	} {
		for _, name := range []string{"network", "extra"} {
			p := &Pass{}
			d := render.Drive{Templates: map[string]string{}, Content: []render.Content{{Name: name, GuestPath: path, ContentPath: "/content/0000", Data: []byte("x\n")}}}
			p.networkFile(d)
			// The topology's network file must be one lint reads, wherever it goes.
			want := refused || name == "network" && path != "/etc/sysconfig/network-scripts/ifcfg-eth0"
			if got := len(p.report.Problems) > 0; got != want {
				t.Errorf("file %s at %s: refused %v, want %v (%v)", name, path, got, want, p.report.Problems)
			}
		}
	}
}
