package harness

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/digitalocean/go-libvirt"

	"github.com/drivelab/drivelab/framework/config"
	"github.com/drivelab/drivelab/framework/vm"
)

// keptMarker, in a run's state folder, says its domains outlive the process
// that booted them on purpose (`make e2e E2E_ARGS=-e2e.keep`); a kept lab's
// run.json says the same.
const keptMarker = "kept"

// RunOwnership is one run found in libvirt and who holds it.
type RunOwnership struct {
	Run     string
	Domains []string
	// Owner is the process that booted the run's domains.
	Owner vm.Owner
	// Live: its process still runs. Kept: it outlives its process on purpose.
	Live, Kept bool
}

// Orphaned: neither live nor kept; a killed run left it behind.
func (r RunOwnership) Orphaned() bool { return !r.Live && !r.Kept }

// Runs lists every run that has domains in libvirt, with its ownership.
func Runs(conn *libvirt.Libvirt, paths config.Paths) ([]RunOwnership, error) {
	doms, err := vm.List(conn)
	if err != nil {
		return nil, err
	}
	var runs []RunOwnership
	for _, d := range doms {
		i := slices.IndexFunc(runs, func(r RunOwnership) bool { return r.Run == d.Owner.Run })
		if i < 0 {
			runs = append(runs, RunOwnership{Run: d.Owner.Run, Owner: d.Owner, Kept: isKept(paths, d.Owner.Run)})
			i = len(runs) - 1
		}
		runs[i].Domains = append(runs[i].Domains, d.Name)
		runs[i].Live = runs[i].Live || d.Owner.Alive()
	}
	return runs, nil
}

func isKept(paths config.Paths, run string) bool {
	for _, f := range []string{RecordFile, keptMarker} {
		if _, err := os.Stat(filepath.Join(RunDir(paths, run), f)); err == nil {
			return true
		}
	}
	return false
}

// ReapOrphans removes what runs whose process is gone left behind (their
// domains, volumes and state), says what it removed, and never touches a
// live run or a kept lab. A run killed with SIGKILL (a CI job's timeout)
// leaves its guests running on the lab's bridge with the topology's
// addresses; the next run would talk to them.
func ReapOrphans(ctx context.Context, conn *libvirt.Libvirt, paths config.Paths, limit time.Duration, progress func(format string, args ...any)) error {
	runs, err := Runs(conn, paths)
	if err != nil {
		return fmt.Errorf("looking for orphaned runs: %w", err)
	}
	var errs []error
	for _, r := range runs {
		if !r.Orphaned() {
			continue
		}
		removed, err := vm.DownRun(ctx, conn, r.Run, limit)
		if err == nil {
			err = os.RemoveAll(RunDir(paths, r.Run))
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("reaping orphaned run %s: %w", r.Run, err))
			continue
		}
		progress("harness: reaped orphaned run %s (booted by %s, which is gone): %s", r.Run, r.Owner, vm.Summary(removed))
	}
	return errors.Join(errs...)
}

// MarkKept records that the lab stays up after its process ends, so that
// later runs do not reap it as an orphan; `e2e down` removes it.
func (l *Lab) MarkKept() error {
	return os.WriteFile(filepath.Join(l.StateDir, keptMarker), nil, 0o600)
}
