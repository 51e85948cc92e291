package checks

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/drivelab/drivelab/framework/topology"
	"github.com/drivelab/drivelab/scenarios/checks/checktest"
)

func twoTier(t *testing.T) *topology.Topology {
	t.Helper()
	topo, err := topology.Load(filepath.Join(root, "fixtures", "topology-twotier.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return topo
}

// haproxyLinks is `ip -j -d addr show` on twotier's haproxy as it should be
// (trimmed to the fields the check reads).
const haproxyLinks = `[
 {"ifname":"lo","flags":["LOOPBACK","UP","LOWER_UP"],"mtu":65536,"address":"00:00:00:00:00:00","addr_info":[{"family":"inet","local":"127.0.0.1","prefixlen":8,"scope":"host"}]},
 {"ifname":"eth0","flags":["BROADCAST","MULTICAST","UP","LOWER_UP"],"mtu":1500,"address":"52:54:00:64:00:1a","addr_info":[
   {"family":"inet","local":"192.168.100.26","prefixlen":24,"scope":"global"},
   {"family":"inet6","local":"fd00:100::26","prefixlen":64,"scope":"global"},
   {"family":"inet6","local":"fe80::5054:ff:fe64:1a","prefixlen":64,"scope":"link"}]},
 {"ifname":"eth1","flags":["BROADCAST","MULTICAST","SLAVE","UP","LOWER_UP"],"mtu":1500,"master":"bond0","address":"52:54:00:64:01:1a","linkinfo":{"info_slave_kind":"bond"},"addr_info":[]},
 {"ifname":"eth2","flags":["BROADCAST","MULTICAST","SLAVE","UP","LOWER_UP"],"mtu":1500,"master":"bond0","address":"52:54:00:64:01:1a","permaddr":"52:54:00:64:02:1a","linkinfo":{"info_slave_kind":"bond"},"addr_info":[]},
 {"ifname":"bond0","flags":["BROADCAST","MULTICAST","MASTER","UP","LOWER_UP"],"mtu":1500,"address":"52:54:00:64:01:1a","linkinfo":{"info_kind":"bond","info_data":{"mode":"active-backup"}},"addr_info":[]},
 {"ifname":"bond0.20","link":"bond0","flags":["BROADCAST","MULTICAST","UP","LOWER_UP"],"mtu":1450,"address":"52:54:00:64:01:1a","linkinfo":{"info_kind":"vlan","info_data":{"protocol":"802.1Q","id":20}},"addr_info":[
   {"family":"inet","local":"10.20.0.26","prefixlen":24,"scope":"global"}]}
]`

func TestCheckNICs(t *testing.T) {
	haproxy := checktest.Node(t, twoTier(t), "haproxy")
	checktest.WantErr(t, checkNICs(haproxy, haproxyLinks), "")
	for _, c := range []struct{ old, new, want string }{
		{`"id":20`, `"id":21`, "bond0.20 is vlan id 21 on \"bond0\", expected VLAN 20 on bond0"},
		{`"mode":"active-backup"`, `"mode":"balance-rr"`, `bond0 is bond mode "balance-rr"`},
		{`"flags":["BROADCAST","MULTICAST","SLAVE","UP","LOWER_UP"],"mtu":1500,"master":"bond0","address":"52:54:00:64:01:1a","permaddr"`, `"flags":["BROADCAST","MULTICAST","UP","LOWER_UP"],"mtu":1500,"address":"52:54:00:64:01:1a","permaddr"`, "of [eth1], expected an active-backup bond of [eth1 eth2]"},
		{`"fd00:100::26","prefixlen":64`, `"fd00:100::26","prefixlen":112`, "eth0's inet6 addresses are [fd00:100::26/112], expected [fd00:100::26/64]"},
		{`"mtu":1450`, `"mtu":1500`, "bond0.20 has MTU 1500, expected 1450"},
		{`"ifname":"bond0.20"`, `"ifname":"bond0.21"`, "no interface bond0.20"},
		{`"52:54:00:64:00:1a"`, `"52:54:00:64:00:99"`, "eth0 has MAC 52:54:00:64:00:99, expected 52:54:00:64:00:1a"},
		{`"scope":"global"}]}
]`, `"scope":"global","dynamic":true}]}
]`, "bond0.20's address 10.20.0.26/24 is dynamic"},
		{`"flags":["BROADCAST","MULTICAST","UP","LOWER_UP"],"mtu":1450`, `"flags":["BROADCAST","MULTICAST"],"mtu":1450`, "bond0.20 is not up"},
	} {
		broken := strings.Replace(haproxyLinks, c.old, c.new, 1)
		if broken == haproxyLinks {
			t.Fatalf("%q is not in the sample", c.old)
		}
		checktest.WantErr(t, checkNICs(haproxy, broken), c.want)
	}
}

const haproxyRoutes4 = `[{"dst":"default","gateway":"192.168.100.1","dev":"eth0","flags":[]},
{"dst":"10.20.0.0/24","dev":"bond0.20","protocol":"kernel","scope":"link","prefsrc":"10.20.0.26","flags":[]},
{"dst":"10.30.0.0/16","gateway":"10.20.0.1","dev":"bond0.20","flags":[]},
{"dst":"192.168.100.0/24","dev":"eth0","protocol":"kernel","scope":"link","prefsrc":"192.168.100.26","flags":[]}]`

const haproxyRoutes6 = `[{"dst":"fd00:100::/64","dev":"eth0","protocol":"kernel","metric":256,"flags":[],"pref":"medium"},
{"dst":"fe80::/64","dev":"eth0","protocol":"kernel","metric":256,"flags":[],"pref":"medium"},
{"dst":"default","gateway":"fd00:100::1","dev":"eth0","metric":1024,"flags":[],"pref":"medium"}]`

func TestCheckRoutes(t *testing.T) {
	topo := twoTier(t)
	haproxy := checktest.Node(t, topo, "haproxy")
	checktest.WantErr(t, checkRoutes(haproxy, haproxyRoutes4, haproxyRoutes6), "")
	checktest.WantErr(t, checkRoutes(haproxy, strings.Replace(haproxyRoutes4, `{"dst":"10.30.0.0/16","gateway":"10.20.0.1","dev":"bond0.20","flags":[]},`, "", 1), haproxyRoutes6),
		"no IPv4 route 10.30.0.0/16 via 10.20.0.1 dev bond0.20")
	checktest.WantErr(t, checkRoutes(haproxy, haproxyRoutes4, strings.Replace(haproxyRoutes6, `,
{"dst":"default","gateway":"fd00:100::1","dev":"eth0","metric":1024,"flags":[],"pref":"medium"}`, "", 1)),
		"no IPv6 route default via fd00:100::1 dev eth0")
	checktest.WantErr(t, checkRoutes(haproxy, strings.Replace(haproxyRoutes4, `[{`, `[{"dst":"default","gateway":"10.20.0.1","dev":"bond0.20"},{`, 1), haproxyRoutes6),
		"IPv4 route default via 10.20.0.1 dev bond0.20 is not the topology's")
	// web01 has no gateway at all: a default route is wrong there.
	web01 := checktest.Node(t, topo, "web01")
	checktest.WantErr(t, checkRoutes(web01, `[{"dst":"10.30.0.0/16","gateway":"10.20.0.1","dev":"eth0.20"}]`, `[]`), "")
	checktest.WantErr(t, checkRoutes(web01, `[{"dst":"default","gateway":"10.20.0.1","dev":"eth0.20"},{"dst":"10.30.0.0/16","gateway":"10.20.0.1","dev":"eth0.20"}]`, `[]`),
		"IPv4 route default via 10.20.0.1 dev eth0.20 is not the topology's")
}

func TestCheckDNS(t *testing.T) {
	topo := twoTier(t)
	haproxy := checktest.Node(t, topo, "haproxy")
	good := "# Dynamic resolv.conf(5) file generated by resolvconf(8)\nnameserver 192.168.100.1\nnameserver fd00:100::1\nnameserver 10.20.0.2\n"
	checktest.WantErr(t, checkDNS(haproxy, good), "")
	checktest.WantErr(t, checkDNS(haproxy, strings.Replace(good, "10.20.0.2", "10.20.0.3", 1)), "names DNS servers [192.168.100.1 fd00:100::1 10.20.0.3], expected [192.168.100.1 fd00:100::1 10.20.0.2]")
	checktest.WantErr(t, checkDNS(haproxy, "# empty\n"), "names DNS servers [], expected")
}

func TestCheckReach(t *testing.T) {
	topo := twoTier(t)
	test2 := checktest.Node(t, topo, "test2")
	targets := reachTargets(topo, test2)
	var want []string
	for _, tg := range targets {
		want = append(want, tg.addr.String()+" "+map[bool]string{true: "yes", false: "no"}[tg.want])
	}
	good := strings.Join(want, "\n")
	if !strings.Contains(good, "fd00:100::26 yes") || !strings.Contains(good, "10.20.0.27 no") || !strings.Contains(good, "192.168.100.26 yes") {
		t.Fatalf("test2 should reach haproxy on both families and not web01:\n%s", good)
	}
	checktest.WantErr(t, checkReach(test2, targets, good), "")
	checktest.WantErr(t, checkReach(test2, targets, strings.Replace(good, "10.20.0.27 no", "10.20.0.27 yes", 1)), "test2 reaches 10.20.0.27 (web01), on a network it is not on")
	checktest.WantErr(t, checkReach(test2, targets, strings.Replace(good, "fd00:100::26 yes", "fd00:100::26 no", 1)), "test2 does not reach fd00:100::26 (haproxy), on a network they share")
	checktest.WantErr(t, checkReach(test2, targets, strings.Replace(good, "10.20.0.28 no", "", 1)), "no answer about 10.20.0.28 (web02)")
	haproxy := checktest.Node(t, topo, "haproxy")
	for _, tg := range reachTargets(topo, haproxy) {
		if !tg.want {
			t.Errorf("haproxy should reach %s (%s)", tg.addr, tg.node)
		}
	}
}

func TestCheckDriveLayout(t *testing.T) {
	web01 := checktest.Node(t, twoTier(t), "web01")
	checktest.WantErr(t, checkDriveLayout(web01, "2018-08-27", "2018-08-27"), "")
	checktest.WantErr(t, checkDriveLayout(web01, "latest", "2018-08-27"), "cloud-init on web01 read openstack/latest/ of its drive; lint checked openstack/2018-08-27/")
}
