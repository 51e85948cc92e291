package checks

import (
	"context"
	_ "embed"
	"fmt"
	"strings"

	"github.com/drivelab/drivelab/framework/topology"
	"github.com/drivelab/drivelab/framework/verify"
)

// The guest NIC; net.ifnames=0 (Debian) and the seed's CentOS 7 both name it eth0.
const nic = "eth0"

// dhcpEvidenceScript lists a DHCP client process or a non-empty lease file,
// if any.
//
//go:embed dhcp_evidence.sh
var dhcpEvidenceScript string

// dhcpEvidence is dhcp_evidence.sh as one of Facts' commands: a newline
// before the "; }" Facts puts after it would be a syntax error.
var dhcpEvidence = strings.TrimSpace(dhcpEvidenceScript)

// StaticIP: eth0 holds exactly the topology's address, the default route goes
// via the gateway, no DHCP client or lease exists, and the node answers a
// ping from the client node.
func StaticIP(ctx context.Context, env *verify.Env, node topology.Node) error {
	c, err := Root(env, node)
	if err != nil {
		return err
	}
	f, err := Facts(ctx, env, c, "ip -4 -o addr show dev "+nic, "ip -4 route show default", dhcpEvidence)
	if err != nil {
		return err
	}
	if err := checkStaticIP(env.Topology.Network, node, f[0], f[1], f[2]); err != nil {
		return err
	}
	// The reply proves the address works on the wire, not just in the config.
	if _, err := Run(ctx, env, env.FromClient(), "ping -n -c 1 -W 5 "+node.IP.String()); err != nil {
		return fmt.Errorf("%s does not answer a ping from %s: %w", node.IP, env.Client.Name, err)
	}
	return nil
}

func checkStaticIP(nw topology.Network, node topology.Node, addrs, routes, dhcp string) error {
	want := node.Prefix(nw).String()
	var got []string
	for _, line := range strings.Split(strings.TrimSpace(addrs), "\n") {
		f := strings.Fields(line)
		for i := range f {
			if f[i] == "inet" && i+1 < len(f) {
				got = append(got, f[i+1])
				if strings.Contains(line, " dynamic") {
					return fmt.Errorf("%s address %s is DHCP-assigned (dynamic), expected static %s", nic, f[i+1], want)
				}
			}
		}
	}
	if len(got) != 1 || got[0] != want {
		return fmt.Errorf("%s addresses: expected exactly [%s], actual %v", nic, want, got)
	}
	wantRoute := "default via " + nw.Gateway.String() + " dev " + nic
	lines := strings.Split(strings.TrimSpace(routes), "\n")
	if len(lines) != 1 || !strings.HasPrefix(strings.TrimSpace(lines[0]), wantRoute) {
		return fmt.Errorf("default route: expected %q, actual %q", wantRoute, strings.TrimSpace(routes))
	}
	if strings.Contains(lines[0], "proto dhcp") {
		return fmt.Errorf("default route came from DHCP: %q", lines[0])
	}
	if s := strings.TrimSpace(dhcp); s != "" {
		return fmt.Errorf("expected no DHCP client or lease, found: %s", s)
	}
	return nil
}
