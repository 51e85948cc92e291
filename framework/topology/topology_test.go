package topology_test

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/drivelab/drivelab/framework/topology"
)

func TestLoadReference(t *testing.T) {
	topo, err := topology.Load("../../fixtures/topology.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(topo.NodeNames(), ","); got != "test2,haproxy,web01,web02" {
		t.Fatalf("nodes = %s", got)
	}
	web01, _ := topo.Node("web01")
	if web01.Prefix(topo.Network).String() != "192.168.100.27/24" || web01.ShortName() != "web01" {
		t.Fatalf("web01 = %+v", web01)
	}
	if n, _ := topo.Node("test2"); n.InstanceName != "test" {
		t.Fatalf("test2 instance name = %q", n.InstanceName)
	}
}

// Each broken topology must be refused with a message naming the culprit.
func TestValidateNamesTheCulprit(t *testing.T) {
	base := `
network: {bridge: br0, cidr: 192.168.100.0/24, gateway: 192.168.100.1, domain: cloud.org}
roles:
  client: {files: [hosts, network], user_data: u.tmpl}
nodes:
  - {name: a, role: client, fqdn: a.cloud.org, ip: 192.168.100.10, mac: "52:54:00:00:00:0a", vcpus: 1, memory_mib: 512, password: a, uuid: 11111111-1111-4111-8111-111111111111}
`
	cases := map[string]struct{ node, want string }{
		"duplicate ip":   {`  - {name: b, role: client, fqdn: b.cloud.org, ip: 192.168.100.10, mac: "52:54:00:00:00:0b", vcpus: 1, memory_mib: 512, password: b, uuid: 22222222-2222-4222-8222-222222222222}`, `t.yaml:7: node "b": ip 192.168.100.10 is already used by node "a"`},
		"gateway ip":     {`  - {name: b, role: client, fqdn: b.cloud.org, ip: 192.168.100.1, mac: "52:54:00:00:00:0b", vcpus: 1, memory_mib: 512, password: b, uuid: 22222222-2222-4222-8222-222222222222}`, `node "b": ip 192.168.100.1 is the gateway's address`},
		"outside subnet": {`  - {name: b, role: client, fqdn: b.cloud.org, ip: 10.0.0.5, mac: "52:54:00:00:00:0b", vcpus: 1, memory_mib: 512, password: b, uuid: 22222222-2222-4222-8222-222222222222}`, `node "b": ip 10.0.0.5 is outside network.cidr`},
		"bad fqdn":       {`  - {name: b, role: client, fqdn: b_x.cloud.org, ip: 192.168.100.11, mac: "52:54:00:00:00:0b", vcpus: 1, memory_mib: 512, password: b, uuid: 22222222-2222-4222-8222-222222222222}`, `node "b": fqdn "b_x.cloud.org" is not a valid host name`},
		"missing uuid":   {`  - {name: b, role: client, fqdn: b.cloud.org, ip: 192.168.100.11, mac: "52:54:00:00:00:0b", vcpus: 1, memory_mib: 512, password: b}`, `node "b": uuid is missing`},
		"unknown role":   {`  - {name: b, role: db, fqdn: b.cloud.org, ip: 192.168.100.11, mac: "52:54:00:00:00:0b", vcpus: 1, memory_mib: 512, password: b, uuid: 22222222-2222-4222-8222-222222222222}`, `node "b": role "db" is not defined`},
		"multicast mac":  {`  - {name: b, role: client, fqdn: b.cloud.org, ip: 192.168.100.11, mac: "01:00:5e:00:00:0b", vcpus: 1, memory_mib: 512, password: b, uuid: 22222222-2222-4222-8222-222222222222}`, `node "b": mac "01:00:5e:00:00:0b" is not a unicast`},
		"unknown field":  {`  - {name: b, rol: client}`, `field rol not found`},
		"unknown client": {`client: b`, `t.yaml:7: client "b" is not a node of the topology`},
	}
	if _, err := topology.Parse("t.yaml", []byte(base)); err != nil {
		t.Fatalf("base topology must be valid: %v", err)
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := topology.Parse("t.yaml", []byte(base+c.node+"\n"))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error = %v, want it to contain %q", err, c.want)
			}
		})
	}
}

// The client node is data: the topology names it, and a lab cannot be
// entered without one.
func TestClientNode(t *testing.T) {
	topo, err := topology.Load("../../fixtures/topology.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if c, err := topo.ClientNode(); err != nil || c.Name != "test2" {
		t.Fatalf("client = %q, %v; want test2, the node fixtures/topology.yaml names", c.Name, err)
	}
	for name, c := range map[string]struct{ client, want string }{
		"none":    {"", "no `client:` names the node"},
		"unknown": {"web09", `client "web09" is not a node of the topology (have test2, haproxy, web01, web02)`},
	} {
		t.Run(name, func(t *testing.T) {
			broken := *topo
			broken.Client = c.client
			if n, err := broken.ClientNode(); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("client %q gives %q, %v; want an error containing %q", c.client, n.Name, err, c.want)
			}
		})
	}
}

// Nodes are bounded by the host, after the caps the boot applies.
func TestFitsHost(t *testing.T) {
	topo, err := topology.Load("../../fixtures/topology.yaml")
	if err != nil {
		t.Fatal(err)
	}
	topo.Nodes[1].VCPUs = 9
	cases := []struct {
		host topology.Host
		want string // "" when it fits
	}{
		{topology.Host{CPUs: 3, MemoryMiB: 24000}, ""},
		{topology.Host{CPUs: 1, MemoryMiB: 24000}, `topology.yaml:43: node "haproxy": vcpus 9 is more than 4 per host CPU on this host of 1 CPUs; lower it to at most 4`},
		{topology.Host{CPUs: 1, MemoryMiB: 24000, MaxVCPUs: 4}, ""},
		{topology.Host{CPUs: 3, MemoryMiB: 3000}, `topology.yaml:44: node "haproxy": memory_mib 4096 is more than this host has (3000 MiB)`},
		{topology.Host{CPUs: 3, MemoryMiB: 8000}, `topology.yaml:27: the nodes ask 9216 MiB of memory together, more than this host has (8000 MiB)`},
		{topology.Host{CPUs: 3, MemoryMiB: 8000, MaxMemoryMiB: 1024}, ""},
		// What admission keeps for the host, lint keeps too.
		{topology.Host{CPUs: 3, MemoryMiB: 10000, ReservedMiB: 2048}, `topology.yaml:27: the nodes ask 9216 MiB of memory together, more than this host gives guests (7952 MiB: 10000 MiB less the 2048 MiB kept for the host)`},
		{topology.Host{CPUs: 3, MemoryMiB: 5000, ReservedMiB: 2048, MaxMemoryMiB: 1024}, `more than this host gives guests (2952 MiB`},
	}
	for _, c := range cases {
		err := topo.FitsHost(c.host)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%+v: %v", c.host, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%+v: error = %v, want %q", c.host, err, c.want)
		}
	}
}

// A size that is not whole is named as written, and the fix suggested is
// itself valid: never "vcpus 1 is not a whole number; write vcpus: 2".
func TestFractionalSizeFixIsValid(t *testing.T) {
	node := `  - {name: a, role: client, fqdn: a.cloud.org, ip: 192.168.100.10, mac: "52:54:00:00:00:0a", vcpus: VCPUS, memory_mib: MEM, password: a, uuid: 11111111-1111-4111-8111-111111111111}`
	base := "network: {bridge: br0, cidr: 192.168.100.0/24, gateway: 192.168.100.1, domain: cloud.org}\nroles:\n  client: {files: [hosts, network], user_data: u.tmpl}\nnodes:\n"
	for _, c := range []struct{ vcpus, mem, want, fix string }{
		{"1.0", "512", "vcpus 1.0 is not a whole number; write vcpus: 1", "vcpus: 1"},
		{"!!float 2", "512", "vcpus !!float 2 is not a whole number; write vcpus: 2", "vcpus: 2"},
		{"1.5", "512", "vcpus 1.5 is not a whole number; write vcpus: 2", "vcpus: 2"},
		{"0.5", "512", "vcpus 0.5 is not a whole number; write vcpus: 1", "vcpus: 1"},
		{"1", "100.5", "memory_mib 100.5 is not a whole number; write memory_mib: 256", "memory_mib: 256"},
	} {
		r := strings.NewReplacer("VCPUS", c.vcpus, "MEM", c.mem)
		_, err := topology.Parse("t.yaml", []byte(base+r.Replace(node)))
		if err == nil || !strings.Contains(err.Error(), "t.yaml:5: node \"a\": "+c.want) {
			t.Errorf("vcpus %s, memory_mib %s: %v", c.vcpus, c.mem, err)
			continue
		}
		// The fix, applied, is accepted.
		var fixed *strings.Replacer
		if strings.HasPrefix(c.fix, "vcpus") {
			fixed = strings.NewReplacer("vcpus: VCPUS", c.fix, "MEM", c.mem)
		} else {
			fixed = strings.NewReplacer("VCPUS", c.vcpus, "memory_mib: MEM", c.fix)
		}
		if _, err := topology.Parse("t.yaml", []byte(base+fixed.Replace(node))); err != nil {
			t.Errorf("the fix %q is refused: %v", c.fix, err)
		}
	}
}

// The several-network form: what Load derives, and how the harness gets
// to each node.
func TestSeveralNetworks(t *testing.T) {
	topo, err := topology.Load("../../fixtures/topology-twotier.yaml")
	if err != nil {
		t.Fatal(err)
	}
	haproxy, _ := topo.Node("haproxy")
	vlan, _ := haproxy.NIC("bond0.20")
	bond, _ := haproxy.NIC("bond0")
	eth2, _ := haproxy.NIC("eth2")
	switch {
	case haproxy.IP.String() != "192.168.100.26" || haproxy.MAC != "52:54:00:64:00:1a":
		t.Errorf("haproxy's first address and MAC: %s %s", haproxy.IP, haproxy.MAC)
	case vlan.Kind != topology.KindVLAN || vlan.VLAN != 20 || vlan.MTU != 1450 || vlan.HWAddr != "52:54:00:64:01:1a" || vlan.Prefix.String() != "10.20.0.26/24":
		t.Errorf("bond0.20 = %+v", vlan)
	case bond.Kind != topology.KindBond || bond.HWAddr != "52:54:00:64:01:1a":
		t.Errorf("bond0 = %+v", bond)
	case eth2.Wire != "back":
		t.Errorf("eth2 plugs into %q, want back's bridge", eth2.Wire)
	case vlan.Gateway.IsValid():
		t.Errorf("bond0.20 holds a default route; front's gateway is haproxy's only one")
	case fmt.Sprint(haproxy.DNS) != "[192.168.100.1 fd00:100::1 10.20.0.2]":
		t.Errorf("haproxy's DNS: %v", haproxy.DNS)
	}
	if eth0, _ := haproxy.NIC("eth0"); eth0.Gateway.String() != "192.168.100.1" || eth0.Gateway6.String() != "fd00:100::1" {
		t.Errorf("eth0's gateways: %s %s", eth0.Gateway, eth0.Gateway6)
	}
	hops, err := topo.Hops()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"test2": " 192.168.100.25", "haproxy": "test2 192.168.100.26", "web01": "haproxy 10.20.0.27", "web02": "haproxy 10.20.0.28"}
	for n, w := range want {
		if got := hops[n].Via + " " + hops[n].Addr.String(); got != w {
			t.Errorf("hop to %s: %q, want %q", n, got, w)
		}
	}
	web01, _ := topo.Node("web01")
	if _, ok := topo.LabAddr(web01); ok {
		t.Error("web01 is on no network with a gateway, so the run's namespace does not reach it")
	}
	if a, ok := topo.LabAddr(haproxy); !ok || a.String() != "192.168.100.26" {
		t.Errorf("haproxy's address from the run's namespace: %s", a)
	}
	test2, _ := topo.Node("test2")
	if topo.Reaches(test2, web01, web01.IP) || !topo.Reaches(haproxy, web01, web01.IP) || !topo.Reaches(test2, haproxy, netip.MustParseAddr("fd00:100::26")) {
		t.Error("reachability does not follow the shared networks")
	}
	// The one-network form is the same model with one network.
	ref, err := topology.Load("../../fixtures/topology.yaml")
	if err != nil {
		t.Fatal(err)
	}
	web02, _ := ref.Node("web02")
	if len(ref.Networks) != 1 || len(web02.NICs) != 1 || web02.NICs[0].Name != "eth0" || web02.NICs[0].Gateway != ref.Network.Gateway || ref.SeveralNetworks() {
		t.Errorf("one-network form: %+v %+v", ref.Networks, web02.NICs)
	}
}
