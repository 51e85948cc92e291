package lab

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/drivelab/drivelab/framework/runid"
)

// A Segment is one run's own network. In a netns lab it is a bridge without
// an address in the lab's namespace (where libvirtd puts the guests' tap
// devices), joined by a veth pair to the run's own namespace, which holds
// the gateway address and is where the harness dials from. Runs of the same
// topology thus use the same addresses and MACs side by side without seeing
// each other, and nothing of one run is reachable from another.
//
// In host mode the segment is the runner's bridge, shared by every run: the
// admission (see harness.Admit) lets only one run at a time use it.
type Segment struct {
	Run string
	// Namespace is the run's own network namespace, <lab>-<run> ("" in host mode).
	Namespace string
	// Bridge is what the run's guests attach to, in libvirtd's namespace.
	Bridge string
	// Shared: the runner's bridge (host mode), not the run's own.
	Shared bool

	lab Config
}

// segmentAlias marks a run's bridge with its run id (the bridge's name is a
// hash, IFNAMSIZ being 15), so reaping can tell whose it is.
const segmentAlias = "drivelab-run="

// gatewayLink is the run namespace's end of the veth pair, holding the gateway.
const gatewayLink = "gw0"

// Segment names the network of run: pure naming, nothing is created.
func (c Config) Segment(run string) Segment {
	if c.Mode == ModeHost {
		return Segment{Run: run, Bridge: c.Bridge, Shared: true, lab: c}
	}
	id := runid.ID(run)
	return Segment{Run: run, Namespace: id.Namespace(c.Namespace), Bridge: id.Bridge(c.Namespace), lab: c}
}

// runNamespacePrefix starts the names of this lab's run namespaces, which
// live beside every other namespace of the host: the lab's own name in it
// keeps one lab (a test's scratch lab, say) from taking another's for its own.
func (c Config) runNamespacePrefix() string { return c.Namespace + "-" }

// peer is the lab-side end of the veth pair, a port of the bridge.
func (s Segment) peer() string { return s.Bridge + "v" }

// Dialer reaches the segment's guests: from the run's namespace, or in host
// mode from the host, onto the runner's bridge only.
func (s Segment) Dialer() Dialer {
	if s.Shared {
		return HostDialer(s.Bridge)
	}
	return nsDialer{ns: s.Namespace, bridgeNS: s.lab.Namespace}
}

// Create makes the segment and is idempotent; on failure it removes what it
// made. In host mode it only checks the runner's bridge.
func (s Segment) Create(ctx context.Context) (err error) {
	if s.Shared {
		return s.Dialer().CheckBridge(ctx, s.Bridge)
	}
	if !s.lab.Gateway.IsValid() {
		return errors.New("lab: no gateway for the run's segment; set network.gateway and network.cidr in the topology")
	}
	defer func() {
		if err != nil {
			err = errors.Join(fmt.Errorf("lab: run %s: creating its network: %w", s.Run, err), s.Remove(context.WithoutCancel(ctx)))
		}
	}()
	labNS := s.lab.Namespace
	if _, err := os.Stat(filepath.Join(NetnsDir, s.Namespace)); err != nil {
		if err := run(ctx, "ip", "netns", "add", s.Namespace); err != nil {
			return err
		}
	}
	steps := [][]string{
		{"-n", s.Namespace, "link", "set", "lo", "up"},
	}
	if _, err := linkKind(ctx, labNS, s.Bridge); err != nil {
		// STP off and no forwarding delay: a guest's port forwards at once.
		steps = append(steps,
			[]string{"-n", labNS, "link", "add", s.Bridge, "type", "bridge", "stp_state", "0", "forward_delay", "0"},
			[]string{"-n", labNS, "link", "set", s.Bridge, "alias", segmentAlias + s.Run},
			[]string{"-n", labNS, "link", "add", s.peer(), "type", "veth", "peer", "name", gatewayLink, "netns", s.Namespace},
			[]string{"-n", labNS, "link", "set", s.peer(), "master", s.Bridge},
			[]string{"-n", s.Namespace, "addr", "add", s.lab.Gateway.String(), "dev", gatewayLink},
		)
	}
	steps = append(steps,
		[]string{"-n", labNS, "link", "set", s.Bridge, "up"},
		[]string{"-n", labNS, "link", "set", s.peer(), "up"},
		[]string{"-n", s.Namespace, "link", "set", gatewayLink, "up"},
	)
	for _, args := range steps {
		if err := run(ctx, "ip", args...); err != nil {
			return err
		}
	}
	fmt.Fprintf(s.lab.progress(), "lab: run %s: netns %s with %s, bridge %s in netns %s\n", s.Run, s.Namespace, s.lab.Gateway, s.Bridge, labNS)
	return nil
}

// Remove deletes the run's namespace (with its end of the veth pair, which
// takes the other end along) and its bridge; what is already gone is fine.
func (s Segment) Remove(ctx context.Context) error {
	if s.Shared {
		return nil
	}
	var errs []error
	if _, err := os.Stat(filepath.Join(NetnsDir, s.Namespace)); err == nil {
		errs = append(errs, run(ctx, "ip", "netns", "del", s.Namespace))
	}
	for _, link := range []string{s.peer(), s.Bridge} {
		if _, err := linkKind(ctx, s.lab.Namespace, link); err != nil {
			continue
		}
		// Deleting the run's namespace deletes the veth pair too, but in the
		// kernel's own time: the peer may go between the look and the del.
		if err := run(ctx, "ip", "-n", s.lab.Namespace, "link", "del", link); err != nil {
			if _, gone := linkKind(ctx, s.lab.Namespace, link); gone == nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// Exists reports whether anything of the segment is still there.
func (s Segment) Exists(ctx context.Context) bool {
	if s.Shared {
		return false
	}
	if _, err := os.Stat(filepath.Join(NetnsDir, s.Namespace)); err == nil {
		return true
	}
	_, err := linkKind(ctx, s.lab.Namespace, s.Bridge)
	return err == nil
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
	entries, err := os.ReadDir(NetnsDir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	for _, e := range entries {
		if r, ok := strings.CutPrefix(e.Name(), c.runNamespacePrefix()); ok {
			add(r)
		}
	}
	if _, err := os.Stat(filepath.Join(NetnsDir, c.Namespace)); err != nil {
		return runs, nil // no lab, no bridges
	}
	links, err := ipLinks(ctx, c.Namespace)
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
