package harness

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/drivelab/drivelab/framework/config"
	"github.com/drivelab/drivelab/framework/lab"
	"github.com/drivelab/drivelab/framework/runid"
	"github.com/drivelab/drivelab/framework/vm"
)

// keptMarker, in a run's state folder, says its domains outlive the process
// that booted them on purpose (`make e2e E2E_ARGS=-e2e.keep`); a kept lab's
// run.json says the same.
const keptMarker = "kept"

// Host is what the runs on this machine share: libvirt, the lab (where each
// run's network lives), the state folder and the run registry.
type Host struct {
	Conn     vm.Libvirt
	Lab      lab.Config
	Paths    config.Paths
	Registry string
	// close ends what OpenHost connected.
	close func()
}

// Close disconnects from the host.
func (h Host) Close() {
	if h.close != nil {
		h.close()
		return
	}
	h.Conn.Disconnect()
}

// RunOwnership is one run found on the host and who holds it.
type RunOwnership struct {
	Run     string
	Domains []string
	// Network: the run's own network (lab.Segment) exists.
	Network bool
	// Owner is the process that started the run.
	Owner vm.Owner
	// Live: its process still runs. Kept: it outlives its process on purpose.
	Live, Kept bool
	// Claim is its entry in the run registry, nil if it has none.
	Claim *Claim
}

// Orphaned: neither live nor kept; a killed run left it behind.
func (r RunOwnership) Orphaned() bool { return !r.Live && !r.Kept }

// Runs lists every run that has a claim, domains or a network on the host,
// with its ownership. The claim names the owner where there is one (it is
// written before anything else of a run and removed last); domains carry
// it in their metadata too.
func (h Host) Runs(ctx context.Context) ([]RunOwnership, error) {
	var runs []RunOwnership
	find := func(run string) *RunOwnership {
		i := slices.IndexFunc(runs, func(r RunOwnership) bool { return r.Run == run })
		if i < 0 {
			runs = append(runs, RunOwnership{Run: run, Kept: isKept(h.Paths, run)})
			i = len(runs) - 1
		}
		return &runs[i]
	}
	claims, err := Claims(h.Registry)
	if err != nil {
		return nil, err
	}
	for _, c := range claims {
		r := find(c.Run)
		r.Owner, r.Kept, r.Claim = c.Owner, r.Kept || c.Kept, &c
	}
	doms, err := vm.List(h.Conn)
	if err != nil {
		return nil, err
	}
	for _, d := range doms {
		r := find(d.Owner.Run)
		r.Domains = append(r.Domains, d.Name)
		if r.Owner.PID == 0 {
			r.Owner = d.Owner
		}
	}
	nets, err := h.Lab.SegmentRuns(ctx)
	if err != nil {
		return nil, err
	}
	for _, run := range nets {
		find(run).Network = true
	}
	for i := range runs {
		runs[i].Live = runs[i].Owner.Alive()
	}
	return runs, nil
}

func isKept(paths config.Paths, run string) bool {
	for _, f := range []string{RecordFile, keptMarker} {
		if _, err := os.Stat(filepath.Join(RunDir(paths, runid.ID(run)), f)); err == nil {
			return true
		}
	}
	return false
}

// ReapOrphans removes what runs whose process is gone left behind (their
// domains, volumes, network, claim and state), says what it removed, and
// never touches a live run or a kept lab. A run killed with SIGKILL (a CI
// job's timeout) leaves its guests running and burning the host's cores.
func (h Host) ReapOrphans(ctx context.Context, limit time.Duration, progress func(format string, args ...any)) error {
	runs, err := h.Runs(ctx)
	if err != nil {
		return fmt.Errorf("looking for orphaned runs: %w", err)
	}
	var errs []error
	for _, r := range runs {
		if !r.Orphaned() {
			continue
		}
		removed, err := h.RemoveRun(ctx, r.Run, limit)
		if err != nil {
			errs = append(errs, fmt.Errorf("reaping orphaned run %s: %w", r.Run, err))
			continue
		}
		progress("harness: reaped orphaned run %s (started by %s, which is gone): %s", r.Run, r.Owner, vm.Summary(removed))
	}
	return errors.Join(errs...)
}

// RemoveRun removes everything of one run, live or not: its domains and
// volumes, its network, its claim and its state folder, and lists what it
// removed. `e2e down --run` and the reaper use it.
func (h Host) RemoveRun(ctx context.Context, run string, limit time.Duration) ([]string, error) {
	removed, err := vm.DownRun(ctx, h.Conn, run, limit)
	if err != nil {
		return removed, err
	}
	if seg := h.Lab.Segment(run); seg.Exists(ctx) {
		if err := seg.Remove(ctx); err != nil {
			return removed, err
		}
		removed = append(removed, "network "+seg.Namespace+"/"+seg.Bridge)
	}
	if err := releaseClaim(h.Registry, run); err != nil {
		return removed, err
	}
	return removed, os.RemoveAll(RunDir(h.Paths, runid.ID(run)))
}

// Leftovers lists what a run still has on the host: domains, volumes, its
// network, its claim and its state folder.
func (h Host) Leftovers(ctx context.Context, run string) ([]string, error) {
	left, err := vm.Leftovers(h.Conn, run)
	if seg := h.Lab.Segment(run); seg.Exists(ctx) {
		left = append(left, "network "+seg.Namespace+"/"+seg.Bridge)
	}
	if _, serr := os.Stat(claimFile(h.Registry, run)); serr == nil {
		left = append(left, "claim "+claimFile(h.Registry, run))
	}
	if _, serr := os.Stat(RunDir(h.Paths, runid.ID(run))); serr == nil {
		left = append(left, "state folder "+RunDir(h.Paths, runid.ID(run)))
	}
	return left, err
}

// RemoveAll removes every run on the host, live or not (`e2e down`): all
// the harness's domains and volumes, every run's network, claim and state.
func (h Host) RemoveAll(ctx context.Context, limit time.Duration) ([]string, error) {
	removed, err := vm.DownAll(ctx, h.Conn, limit)
	if err != nil {
		return removed, err
	}
	runs, err := h.Runs(ctx)
	if err != nil {
		return removed, err
	}
	var errs []error
	for _, r := range runs {
		more, err := h.RemoveRun(ctx, r.Run, limit)
		removed, errs = append(removed, more...), append(errs, err)
	}
	return removed, errors.Join(errs...)
}

// MarkKept records that the lab stays up after its process ends, so that
// later runs do not reap it as an orphan; `e2e down` removes it.
func (r *Run) MarkKept() error {
	return errors.Join(os.WriteFile(filepath.Join(r.StateDir, keptMarker), nil, 0o600), r.ticket.Keep())
}
