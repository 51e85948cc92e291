package vm

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"slices"
	"strings"

	libvirt "github.com/digitalocean/go-libvirt"

	"github.com/drivelab/drivelab/framework/runid"
)

// Replace boots some nodes of a running run again, as `e2e up` does after a
// template change: in.Topology lists only the nodes to replace (a copy of
// the run's topology with the others left out), in.Drives their new drives.
// Their domains and volumes are removed first, their previous consoles kept
// as <domain>.console.log.old, then they boot as BootAll boots them. The
// run's other domains are not touched, also when the boot fails: BootAll's
// teardown takes only the nodes it booted.
func Replace(ctx context.Context, in BootInput) (*Cluster, error) {
	// Bad input fails before the old nodes are removed.
	if err := checkInput(in, Limits(in.Limits)); err != nil {
		return nil, fmt.Errorf("cannot replace: %w", err)
	}
	if len(in.Topology.Nodes) == 0 {
		return nil, fmt.Errorf("cannot replace: no nodes given for run %s", in.RunID)
	}
	nodes := in.Topology.NodeNames()
	var vols []string
	for _, n := range nodes {
		vols = append(vols, volumes(in.RunID, n)...)
	}
	removed, err := remove(ctx, in.Conn, in.Intervals.Teardown,
		func(o Owner) bool { return o.Run == in.RunID && slices.Contains(nodes, o.Node) },
		func(vol string) bool { return slices.Contains(vols, vol) })
	if err != nil {
		return nil, fmt.Errorf("replace in run %s: removing %v: %w", in.RunID, nodes, err)
	}
	if in.Progress != nil {
		fmt.Fprintf(in.Progress, "vm: run %s: replacing %s (%s)\n", in.RunID, strings.Join(nodes, ", "), Summary(removed))
	}
	for _, n := range nodes {
		log := runid.ID(in.RunID).ConsoleLog(in.ArtifactsDir, n)
		if err := os.Rename(log, log+".old"); err != nil && !os.IsNotExist(err) {
			return nil, err
		}
	}
	return BootAll(ctx, in)
}

// DomainInfo is one of the harness's domains as libvirt holds it.
type DomainInfo struct {
	Name  string
	Owner Owner
	State libvirt.DomainState
}

// List returns the harness's domains, running or not, with their owner
// and state, sorted by run and name.
func List(conn Libvirt) ([]DomainInfo, error) {
	doms, err := ownedDomains(conn, func(Owner) bool { return true })
	if err != nil {
		return nil, err
	}
	var infos []DomainInfo
	for _, d := range doms {
		o, err := domainOwner(conn, d)
		if err != nil {
			continue // gone meanwhile
		}
		st, _, err := conn.DomainGetState(d, 0)
		if err != nil {
			continue
		}
		infos = append(infos, DomainInfo{Name: d.Name, Owner: o, State: libvirt.DomainState(st)})
	}
	slices.SortFunc(infos, func(a, b DomainInfo) int {
		return cmp.Or(strings.Compare(a.Owner.Run, b.Owner.Run), strings.Compare(a.Name, b.Name))
	})
	return infos, nil
}
