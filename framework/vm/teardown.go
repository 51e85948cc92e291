package vm

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	libvirt "github.com/digitalocean/go-libvirt"

	"github.com/drivelab/drivelab/framework/config"
	"github.com/drivelab/drivelab/framework/runid"
	"github.com/drivelab/drivelab/framework/wait"
)

// Teardown destroys and undefines the run's domains and deletes its
// volumes; console logs stay in the artifacts folder. It works on a fresh
// context bounded by the Teardown interval, so it still runs after ctx was
// cancelled (Ctrl-C), and it is safe to call again.
func (r *Cluster) Teardown(ctx context.Context) error {
	names := make([]string, 0, 2*len(r.Nodes))
	for _, n := range r.Nodes {
		names = append(names, volumes(r.ID, n.Name)...)
	}
	r.follow.stopNodes(nil)
	// Only the nodes this Run booted: Replace boots a part of a run.
	removed, err := remove(ctx, r.conn, r.intervals.Teardown,
		func(o Owner) bool { return o.Run == r.ID && r.Node(o.Node) != nil },
		func(vol string) bool { return slices.Contains(names, vol) })
	if err != nil {
		return fmt.Errorf("teardown of run %s: %w; remove what is left with `e2e down`", r.ID, err)
	}
	r.out.printf("vm: run %s torn down (%s)", r.ID, Summary(removed))
	return nil
}

// DestroyNode removes one node of the run, its domain and volumes; its
// console log stays.
func (r *Cluster) DestroyNode(ctx context.Context, node string) error {
	vols := volumes(r.ID, node)
	r.follow.stopNodes([]string{node})
	removed, err := remove(ctx, r.conn, r.intervals.Teardown,
		func(o Owner) bool { return o.Run == r.ID && o.Node == node },
		func(vol string) bool { return slices.Contains(vols, vol) })
	if err != nil {
		return fmt.Errorf("removing node %s of run %s: %w; remove what is left with `e2e down`", node, r.ID, err)
	}
	r.out.printf("vm: run %s: node %s removed (%s)", r.ID, node, Summary(removed))
	return nil
}

// DownAll removes every domain carrying the harness's metadata, whatever
// run left it (a run killed with SIGKILL), and every dl-* volume of the
// harness's pool. It returns what it removed.
func DownAll(ctx context.Context, conn Libvirt, limit time.Duration) ([]string, error) {
	return remove(ctx, conn, limit,
		func(Owner) bool { return true },
		func(vol string) bool { return strings.HasPrefix(vol, Prefix) })
}

// DownRun removes what one run left: the domains whose metadata names the
// run, and the volumes named dl-<run>-*. Use it on a machine that other
// runs share.
func DownRun(ctx context.Context, conn Libvirt, run string, limit time.Duration) ([]string, error) {
	if err := checkRunID(run); err != nil {
		return nil, err
	}
	return remove(ctx, conn, limit,
		func(o Owner) bool { return o.Run == run },
		func(vol string) bool { return strings.HasPrefix(vol, runid.ID(run).Domain("")) })
}

// remove destroys and undefines the harness's domains whose owner matches,
// then deletes the matching volumes. go-libvirt takes no context, so the
// work runs aside and the wait is bounded by limit on a context that
// ignores the caller's cancellation.
func remove(ctx context.Context, conn Libvirt, limit time.Duration, domain func(Owner) bool, volume func(string) bool) ([]string, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), limit)
	defer cancel()
	type result struct {
		removed []string
		err     error
	}
	done := make(chan result, 1)
	go func() {
		var res result
		if err := reconnect(ctx, conn); err != nil {
			done <- result{err: err}
			return
		}
		res.removed, res.err = removeDomains(conn, domain)
		vols, err := removeVolumes(conn, volume)
		res.removed = append(res.removed, vols...)
		res.err = errors.Join(res.err, err)
		done <- res
	}()
	select {
	case res := <-done:
		return res.removed, res.err
	case <-ctx.Done():
		return nil, fmt.Errorf("libvirt did not finish removing within %s (Teardown)", limit)
	}
}

// reconnect opens a connection that libvirtd dropped (it restarted) again,
// so that what a run created can still be removed: QEMU outlives libvirtd.
func reconnect(ctx context.Context, conn Libvirt) error {
	err := wait.Until(ctx, wait.Input{What: "libvirtd to come back", Interval: config.LibvirtReconnect}, func(context.Context) (bool, string, error) {
		if conn.IsConnected() {
			return true, "", nil
		}
		if err := conn.ConnectToURI(libvirt.QEMUSystem); err != nil {
			if errors.Is(err, ErrHostGone) {
				return false, "", err // no libvirtd comes back on a host out of reach
			}
			return false, err.Error(), nil
		}
		return true, "", nil
	})
	if err != nil {
		return fmt.Errorf("libvirtd is gone and did not come back: %w", err)
	}
	return nil
}

// Leftovers lists what a run still has in libvirt: its domains and volumes.
func Leftovers(conn Libvirt, run string) ([]string, error) {
	doms, err := ownedDomains(conn, func(o Owner) bool { return o.Run == run })
	if err != nil {
		return nil, err
	}
	var left []string
	for _, d := range doms {
		left = append(left, "domain "+d.Name)
	}
	pool, err := conn.StoragePoolLookupByName(PoolName)
	if isNotFound(err) {
		return left, nil
	}
	if err != nil {
		return left, err
	}
	if err := conn.StoragePoolRefresh(pool, 0); err != nil {
		return left, err
	}
	vols, _, err := conn.StoragePoolListAllVolumes(pool, 1, 0)
	for _, v := range vols {
		if strings.HasPrefix(v.Name, runid.ID(run).Domain("")) {
			left = append(left, "volume "+v.Name)
		}
	}
	return left, err
}

// Domains lists the names of the harness's domains, running or not.
func Domains(conn Libvirt) ([]string, error) {
	doms, err := ownedDomains(conn, func(Owner) bool { return true })
	names := make([]string, len(doms))
	for i, d := range doms {
		names[i] = d.Name
	}
	return names, err
}

func ownedDomains(conn Libvirt, match func(Owner) bool) ([]libvirt.Domain, error) {
	doms, _, err := conn.ConnectListAllDomains(1, libvirt.ConnectListDomainsActive|libvirt.ConnectListDomainsInactive)
	if err != nil {
		return nil, fmt.Errorf("listing domains: %w", err)
	}
	return slices.DeleteFunc(doms, func(d libvirt.Domain) bool {
		o, err := domainOwner(conn, d)
		return err != nil || !match(o) // not the harness's, or gone meanwhile
	}), nil
}

// removeDomains destroys and undefines matching domains in parallel:
// libvirt waits for each QEMU to exit, which takes seconds under TCG.
func removeDomains(conn Libvirt, match func(Owner) bool) ([]string, error) {
	doms, err := ownedDomains(conn, match)
	if err != nil {
		return nil, err
	}
	errs := make([]error, len(doms))
	var wg sync.WaitGroup
	for i, dom := range doms {
		wg.Go(func() { errs[i] = removeDomain(conn, dom) })
	}
	wg.Wait()
	var removed []string
	for i, dom := range doms {
		if errs[i] == nil {
			removed = append(removed, "domain "+dom.Name)
		}
	}
	return removed, errors.Join(errs...)
}

func removeDomain(conn Libvirt, dom libvirt.Domain) error {
	if err := conn.DomainDestroy(dom); err != nil && !hasCode(err, libvirt.ErrOperationInvalid, libvirt.ErrNoDomain) {
		return fmt.Errorf("destroying domain %s: %w", dom.Name, err)
	}
	flags := libvirt.DomainUndefineManagedSave | libvirt.DomainUndefineSnapshotsMetadata | libvirt.DomainUndefineNvram | libvirt.DomainUndefineCheckpointsMetadata
	if err := conn.DomainUndefineFlags(dom, flags); err != nil && !isNotFound(err) {
		return fmt.Errorf("undefining domain %s: %w", dom.Name, err)
	}
	return nil
}

func removeVolumes(conn Libvirt, match func(string) bool) ([]string, error) {
	pool, err := conn.StoragePoolLookupByName(PoolName)
	if isNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("storage pool %s: %w", PoolName, err)
	}
	if err := conn.StoragePoolRefresh(pool, 0); err != nil {
		return nil, fmt.Errorf("refreshing storage pool %s: %w", PoolName, err)
	}
	vols, _, err := conn.StoragePoolListAllVolumes(pool, 1, 0)
	if err != nil {
		return nil, fmt.Errorf("listing volumes of pool %s: %w", PoolName, err)
	}
	var removed []string
	var errs []error
	for _, v := range vols {
		if !match(v.Name) {
			continue
		}
		ok, err := deleteVolume(conn, pool, v.Name)
		if err != nil {
			errs = append(errs, err)
		} else if ok {
			removed = append(removed, "volume "+v.Name)
		}
	}
	return removed, errors.Join(errs...)
}

// Summary describes what was removed, for printing.
func Summary(removed []string) string {
	if len(removed) == 0 {
		return "nothing left to remove"
	}
	return fmt.Sprintf("removed %d: %s", len(removed), strings.Join(removed, ", "))
}
