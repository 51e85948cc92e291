package lab

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/drivelab/drivelab/framework/runid"
)

// A Segment is one run's own networks. In a netns lab each network is a
// bridge without an address in the lab's namespace (where libvirtd puts the
// guests' tap devices); a network with a gateway is joined by a veth pair
// to the run's own namespace, which holds the gateways' addresses (on a
// VLAN of the veth for a tagged network) and is where the harness dials
// from. The run's namespace forwards nothing, so nodes on two networks are
// the only way between them. Runs of the same topology thus use the same
// addresses and MACs side by side without seeing each other, and nothing
// of one run is reachable from another.
//
// In host mode the networks are the runner's bridges, shared by every run:
// the admission (see harness.Admit) lets only one run at a time use them.
type Segment struct {
	Run string
	// Namespace is the run's own network namespace, <lab>-<run> ("" in host mode).
	Namespace string
	// Bridges are what the run's guests attach to, in libvirtd's
	// namespace, by network name; Bridge is the first network's, the one
	// the harness dials on.
	Bridges map[string]string
	Bridge  string
	// Shared: the runner's bridges (host mode), not the run's own.
	Shared bool

	lab Config
}

// segmentAlias marks a run's bridges with its run id (a bridge's name is a
// hash, IFNAMSIZ being 15), so reaping can tell whose they are.
const segmentAlias = "drivelab-run="

// gatewayLink is the run namespace's end of network i's veth pair, which
// holds the network's gateways.
func gatewayLink(i int) string { return fmt.Sprintf("gw%d", i) }

// Segment names the networks of run: pure naming, nothing is created.
func (c Config) Segment(run string) Segment {
	s := Segment{Run: run, Bridges: map[string]string{}, lab: c}
	id := runid.ID(run)
	for i, nw := range c.Networks {
		switch {
		case c.Mode == ModeHost:
			s.Bridges[nw.Name] = nw.Bridge
		case i == 0:
			s.Bridges[nw.Name] = id.Bridge(c.Namespace)
		default:
			s.Bridges[nw.Name] = id.Bridge(c.Namespace + "/" + nw.Name)
		}
		if i == 0 {
			s.Bridge = s.Bridges[nw.Name]
		}
	}
	if c.Mode == ModeHost {
		s.Shared = true
		return s
	}
	s.Namespace = id.Namespace(c.Namespace)
	return s
}

// runNamespacePrefix starts the names of this lab's run namespaces, which
// live beside every other namespace of the host: the lab's own name in it
// keeps one lab (a test's scratch lab, say) from taking another's for its own.
func (c Config) runNamespacePrefix() string { return c.Namespace + "-" }

// peer is the lab-side end of a bridge's veth pair, a port of the bridge.
func peer(bridge string) string { return bridge + "v" }

// Dialer reaches the segment's guests: from the run's namespace, or in host
// mode from the host, onto the first network's bridge only.
func (s Segment) Dialer() Dialer {
	switch {
	case s.Shared:
		return HostDialer(s.Bridge)
	case s.lab.Mode == ModeRemote:
		return shellDialer{sh: s.lab.shell(), ns: s.Namespace}
	}
	return nsDialer{ns: s.Namespace, bridgeNS: s.lab.Namespace}
}

// Create makes the segment and is idempotent; on failure it removes what it
// made. In host mode it only checks the runner's bridges.
func (s Segment) Create(ctx context.Context) (err error) {
	if s.Shared {
		for _, nw := range s.lab.Networks {
			if err := s.Dialer().CheckBridge(ctx, nw.Bridge); err != nil {
				return err
			}
		}
		return nil
	}
	if !slices.ContainsFunc(s.lab.Networks, func(n Net) bool { return len(n.Gateways) > 0 }) {
		return errors.New("lab: no network has a gateway for the harness to reach the run through; give the client's network a gateway in the topology")
	}
	defer func() {
		if err != nil {
			err = errors.Join(fmt.Errorf("lab: run %s: creating its network: %w", s.Run, err), s.Remove(context.WithoutCancel(ctx)))
		}
	}()
	sh, labNS := s.lab.shell(), s.lab.bridgeNS()
	if !hasNamespace(ctx, sh, s.Namespace) {
		if err := run(ctx, sh, "ip", "netns", "add", s.Namespace); err != nil {
			return err
		}
	}
	steps := [][]string{
		{"-n", s.Namespace, "link", "set", "lo", "up"},
	}
	var said []string
	for i, nw := range s.lab.Networks {
		br := s.Bridges[nw.Name]
		if _, err := linkKind(ctx, sh, labNS, br); err != nil {
			// STP off and no forwarding delay: a guest's port forwards at once.
			steps = append(steps,
				nsArgs(labNS, "link", "add", br, "type", "bridge", "stp_state", "0", "forward_delay", "0"),
				nsArgs(labNS, "link", "set", br, "alias", segmentAlias+s.Run),
			)
			if len(nw.Gateways) > 0 {
				gw := gatewayLink(i)
				steps = append(steps,
					nsArgs(labNS, "link", "add", peer(br), "type", "veth", "peer", "name", gw, "netns", s.Namespace),
					nsArgs(labNS, "link", "set", peer(br), "master", br),
				)
				if nw.VLAN != 0 {
					// A tagged network's frames cross its bridge tagged.
					tagged := fmt.Sprintf("%s.%d", gw, nw.VLAN)
					steps = append(steps, []string{"-n", s.Namespace, "link", "add", "link", gw, "name", tagged, "type", "vlan", "id", strconv.Itoa(nw.VLAN)})
					gw = tagged
				}
				for _, a := range nw.Gateways {
					add := []string{"-n", s.Namespace, "addr", "add", a.String(), "dev", gw}
					if a.Addr().Is6() {
						add = append(add, "nodad") // usable at once, not after duplicate address detection
					}
					steps = append(steps, add)
				}
			}
		}
		steps = append(steps, nsArgs(labNS, "link", "set", br, "up"))
		what := fmt.Sprintf("%s: bridge %s", nw.Name, br)
		if len(nw.Gateways) > 0 {
			gw := gatewayLink(i)
			steps = append(steps, nsArgs(labNS, "link", "set", peer(br), "up"), []string{"-n", s.Namespace, "link", "set", gw, "up"})
			if nw.VLAN != 0 {
				steps = append(steps, []string{"-n", s.Namespace, "link", "set", fmt.Sprintf("%s.%d", gw, nw.VLAN), "up"})
			}
			what += fmt.Sprintf(", gateway %s", joinPrefixes(nw.Gateways))
		}
		if nw.VLAN != 0 {
			what += fmt.Sprintf(", VLAN %d", nw.VLAN)
		}
		said = append(said, what)
	}
	for _, args := range steps {
		if err := run(ctx, sh, append([]string{"ip"}, args...)...); err != nil {
			return err
		}
	}
	fmt.Fprintf(s.lab.progress(), "lab: run %s: netns %s (%s) in %s\n", s.Run, s.Namespace, strings.Join(said, "; "), s.lab.where())
	return nil
}

func joinPrefixes(ps []netip.Prefix) string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.String()
	}
	return strings.Join(out, " ")
}

// Remove deletes the run's namespace (with its ends of the veth pairs,
// which take the other ends along) and its bridges, found by their mark so
// that a run's networks go whatever topology made them; what is already
// gone is fine.
func (s Segment) Remove(ctx context.Context) error {
	if s.Shared {
		return nil
	}
	var errs []error
	sh, labNS := s.lab.shell(), s.lab.bridgeNS()
	if hasNamespace(ctx, sh, s.Namespace) {
		errs = append(errs, run(ctx, sh, "ip", "netns", "del", s.Namespace))
	}
	bridges, err := s.lab.runBridges(ctx, s.Run)
	if err != nil {
		return errors.Join(append(errs, err)...)
	}
	for _, br := range bridges {
		for _, link := range []string{peer(br), br} {
			if _, err := linkKind(ctx, sh, labNS, link); err != nil {
				continue
			}
			// Deleting the run's namespace deletes the veth pair too, but in the
			// kernel's own time: the peer may go between the look and the del.
			if _, err := ip(ctx, sh, labNS, "link", "del", link); err != nil {
				if _, gone := linkKind(ctx, sh, labNS, link); gone == nil {
					errs = append(errs, err)
				}
			}
		}
	}
	return errors.Join(errs...)
}

// runBridges are the bridges in the lab's namespace marked as run's, and
// the ones the segment names (a bridge whose alias was not set yet).
func (c Config) runBridges(ctx context.Context, run string) ([]string, error) {
	named := c.Segment(run).Bridges
	var out []string
	for _, name := range slices.Sorted(maps.Values(named)) {
		out = append(out, name)
	}
	if !c.hasBridgeNS(ctx) {
		return out, nil // no lab, no bridges
	}
	links, err := ipLinks(ctx, c.shell(), c.bridgeNS())
	if err != nil {
		return out, err
	}
	for _, l := range links {
		if l.Alias == segmentAlias+run && l.LinkInfo.Kind == "bridge" && !slices.Contains(out, l.Name) {
			out = append(out, l.Name)
		}
	}
	return out, nil
}

// Exists reports whether anything of the segment is still there.
func (s Segment) Exists(ctx context.Context) bool {
	if s.Shared {
		return false
	}
	if hasNamespace(ctx, s.lab.shell(), s.Namespace) {
		return true
	}
	bridges, _ := s.lab.runBridges(ctx, s.Run)
	for _, br := range bridges {
		if _, err := linkKind(ctx, s.lab.shell(), s.lab.bridgeNS(), br); err == nil {
			return true
		}
	}
	return false
}

// SegmentRuns lists the runs that have a segment (a namespace <lab>-<run>
// or a bridge marked with its run id) in this lab, for reaping.
func (c Config) SegmentRuns(ctx context.Context) ([]string, error) {
	if c.Mode == ModeHost {
		return nil, nil
	}
	seen := map[string]bool{}
	var runs []string
	add := func(r string) {
		if r != "" && !seen[r] {
			seen[r] = true
			runs = append(runs, r)
		}
	}
	names, err := namespaces(ctx, c.shell())
	if err != nil {
		return nil, err
	}
	for _, name := range names {
		if r, ok := strings.CutPrefix(name, c.runNamespacePrefix()); ok {
			add(r)
		}
	}
	if !c.hasBridgeNS(ctx) {
		return runs, nil // no lab, no bridges
	}
	links, err := ipLinks(ctx, c.shell(), c.bridgeNS())
	if err != nil {
		return runs, err
	}
	for _, l := range links {
		if r, ok := strings.CutPrefix(l.Alias, segmentAlias); ok && l.LinkInfo.Kind == "bridge" {
			add(r)
		}
	}
	return runs, nil
}

// nsArgs are ip(8)'s arguments args in namespace ns ("" for the shell's own).
func nsArgs(ns string, args ...string) []string {
	if ns == "" {
		return args
	}
	return append([]string{"-n", ns}, args...)
}

// hasBridgeNS reports whether the namespace of the runs' bridges exists
// (a remote host's own always does).
func (c Config) hasBridgeNS(ctx context.Context) bool {
	ns := c.bridgeNS()
	return ns == "" || hasNamespace(ctx, c.shell(), ns)
}

// where says where the runs' bridges are, for progress lines.
func (c Config) where() string {
	if ns := c.bridgeNS(); ns != "" {
		return "netns " + ns
	}
	return "the host's namespace"
}
