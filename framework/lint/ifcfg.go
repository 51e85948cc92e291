package lint

import (
	"bytes"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// What CentOS 7's initscripts and NetworkManager (ifcfg-rh) accept of an
// ifcfg file, beyond what cloud-init's sysconfig parser checks (it reads
// any KEY=value and drops a CR at a line's end).

// ifcfgKeys are the keys initscripts (sysconfig.txt, ifup-eth, ifup-ipv6)
// and NetworkManager's ifcfg-rh read from an Ethernet interface's file;
// ifcfgNumbered take an index (IPADDR0, DNS1).
var (
	ifcfgKeys = []string{
		"ARPCHECK", "ARPUPDATE", "AUTOCONNECT_PRIORITY", "BONDING_OPTS", "BOOTPROTO", "BRIDGE", "BROADCAST", "BROWSER_ONLY",
		"DEFROUTE", "DELAY", "DEVICE", "DEVICETYPE", "DHCPV6C", "DHCPV6C_OPTIONS", "DHCP_CLIENT_ID", "DHCP_HOSTNAME",
		"DOMAIN", "ETHTOOL_OPTS", "HOTPLUG", "HWADDR", "IPV4_FAILURE_FATAL", "IPV4_ROUTE_METRIC", "IPV6ADDR",
		"IPV6ADDR_SECONDARIES", "IPV6FORWARDING", "IPV6INIT", "IPV6_ADDR_GEN_MODE", "IPV6_AUTOCONF", "IPV6_DEFAULTDEV",
		"IPV6_DEFAULTGW", "IPV6_DEFROUTE", "IPV6_DISABLED", "IPV6_FAILURE_FATAL", "IPV6_MTU", "IPV6_PEERDNS",
		"IPV6_PEERROUTES", "IPV6_PRIVACY", "IPV6_ROUTE_METRIC", "IPV6_SET_SYSCTLS", "LINKDELAY", "MACADDR", "MASTER",
		"METRIC", "MTU", "NAME", "NETWORK", "NM_CONTROLLED", "NOZEROCONF", "ONBOOT", "ONPARENT", "PEERDNS", "PEERROUTES",
		"PERSISTENT_DHCLIENT", "PHYSDEV", "PROXY_METHOD", "SCOPE", "SLAVE", "SRCADDR", "STP", "TYPE", "USERCTL", "UUID",
		"VLAN", "ZONE",
	}
	ifcfgNumberedRE = regexp.MustCompile(`^(IPADDR|PREFIX|NETMASK|GATEWAY)[0-9]*$|^DNS[0-9]+$`)
	// ifcfgBooleans take yes or no (initscripts' is_true/is_false and
	// ifcfg-rh also read y/n, true/false, t/f, 1/0; nothing else).
	ifcfgBooleans = []string{
		"ARPCHECK", "ARPUPDATE", "BROWSER_ONLY", "DEFROUTE", "HOTPLUG", "IPV4_FAILURE_FATAL", "IPV6FORWARDING",
		"IPV6INIT", "IPV6_AUTOCONF", "IPV6_DEFROUTE", "IPV6_DISABLED", "IPV6_FAILURE_FATAL", "IPV6_PEERDNS",
		"IPV6_PEERROUTES", "IPV6_SET_SYSCTLS", "NM_CONTROLLED", "NOZEROCONF", "ONBOOT", "ONPARENT", "PEERDNS",
		"PEERROUTES", "PERSISTENT_DHCLIENT", "SLAVE", "STP", "USERCTL",
	}
)

// ifcfgBool reads a boolean as initscripts does; ok is false for a value
// it takes as neither.
func ifcfgBool(v string) (b, ok bool) {
	switch strings.ToLower(v) {
	case "yes", "y", "true", "t", "1":
		return true, true
	case "no", "n", "false", "f", "0":
		return false, true
	}
	return false, false
}

// isFalse is true for a value initscripts take as no.
func isFalse(v string) bool {
	b, ok := ifcfgBool(v)
	return ok && !b
}

// ifcfgLineEndings refuses a CR: initscripts source the file with bash,
// which keeps it in each value (BOOTPROTO="static\r" is not static).
func (p *Pass) ifcfgLineEndings(j ifcfgJob) {
	if i := bytes.IndexByte(j.data, '\r'); i >= 0 {
		line := bytes.Count(j.data[:i], []byte("\n")) + 1
		p.Reportf(j.d, j.drivePath, line, "line %d ends in CR (a Windows line ending): initscripts source the file with bash, which keeps the CR in every value (BOOTPROTO=\"static\\r\" is not static); save the template with LF line endings", line)
	}
}

// ifcfgSettings refuses keys initscripts do not know (a typo is ignored
// silently), values they do not take, and settings the guest would choke
// on: no default route, an MTU out of range, a bad IPv6 address.
func (p *Pass) ifcfgSettings(j ifcfgJob, v map[string]string) {
	at := func(key, format string, args ...any) {
		p.Reportf(j.d, j.drivePath, lineOfKey(j.data, key), format, args...)
	}
	for _, k := range sortedKeys(v) {
		val := v[k]
		switch {
		case !slices.Contains(ifcfgKeys, k) && !ifcfgNumberedRE.MatchString(k):
			hint := "remove it"
			if near := nearestKey(k); near != "" {
				hint = "did you mean " + near + "?"
			}
			at(k, "%s is not a key initscripts or NetworkManager read from an ifcfg file, so %s=%q would be ignored; %s", k, k, val, hint)
		case slices.Contains(ifcfgBooleans, k):
			if _, ok := ifcfgBool(val); !ok {
				at(k, "%s=%q is neither yes nor no; initscripts would take it as unset: say %s=yes or %s=no", k, val, k, k)
			}
		case strings.HasPrefix(k, "IPADDR") && k != "IPADDR" && k != "IPADDR0":
			at(k, "%s=%q gives eth0 a second IPv4 address; the topology gives node %s one (%s): remove it", k, val, j.d.Node.Name, j.d.Node.IP)
		}
	}
	if val, ok := v["DEFROUTE"]; ok {
		if b, known := ifcfgBool(val); known && !b {
			at("DEFROUTE", "DEFROUTE=%q: eth0 would not take its gateway as the default route, and the topology's traffic leaves through %s: say DEFROUTE=yes (or remove the line)", val, p.Topology.Network.Gateway)
		}
	}
	ipv6, _ := ifcfgBool(v["IPV6INIT"])
	if val, ok := v["MTU"]; ok {
		mtu := any(val)
		if n, err := strconv.Atoi(val); err == nil {
			mtu = float64(n)
		}
		p.mtu("MTU", mtu, ipv6, func(format string, args ...any) { at("MTU", format, args...) })
	}
	addrs := []string{v["IPV6ADDR"]}
	addrs = append(addrs, strings.Fields(v["IPV6ADDR_SECONDARIES"])...)
	for i, a := range addrs {
		if a == "" {
			continue
		}
		key := "IPV6ADDR"
		if i > 0 {
			key = "IPV6ADDR_SECONDARIES"
		}
		s := netSubnet{kind: "static6", v6: true, address: a, prefix: 64}
		if addr, bits, cut := strings.Cut(a, "/"); cut {
			s.address, s.prefix = addr, -1
			if n, err := strconv.Atoi(bits); err == nil {
				s.prefix = n
			}
		}
		if i == 0 {
			// IPV6_DEFAULTGW may name the device: fe80::1%eth0.
			s.gateway, _, _ = strings.Cut(v["IPV6_DEFAULTGW"], "%")
		}
		p.ipv6Subnet(s, func(_, field, format string, args ...any) {
			k := key
			if field == "gateway" {
				k = "IPV6_DEFAULTGW"
			}
			at(k, format, args...)
		})
	}
	if _, ok := v["IPV6ADDR"]; !ok && v["IPV6_DEFAULTGW"] != "" {
		gw, _, _ := strings.Cut(v["IPV6_DEFAULTGW"], "%")
		if a, err := netip.ParseAddr(gw); err != nil || !a.Is6() || addrClass(a) != "" {
			at("IPV6_DEFAULTGW", "IPV6_DEFAULTGW=%q is not an IPv6 router's address; give one such as fe80::1, or remove it", v["IPV6_DEFAULTGW"])
		}
	}
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// nearestKey is the known key closest to k (at most two edits), "" when none.
func nearestKey(k string) string {
	best, bestD := "", 3
	for _, c := range append(slices.Clone(ifcfgKeys), "IPADDR0", "PREFIX0", "NETMASK0", "GATEWAY0", "DNS1") {
		if d := editDistance(k, c); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}
