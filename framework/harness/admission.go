package harness

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/drivelab/drivelab/framework/atomicfile"
	"github.com/drivelab/drivelab/framework/config"
	"github.com/drivelab/drivelab/framework/lockfile"
	"github.com/drivelab/drivelab/framework/platform"
	"github.com/drivelab/drivelab/framework/runid"
	"github.com/drivelab/drivelab/framework/vm"
	"github.com/drivelab/drivelab/framework/wait"
)

// A Claim is one run's entry in the host's run registry: who runs it and
// what it takes of the host. It is written before the run creates anything
// and removed after the run removed everything, so a resource without a
// live claim belongs to a run that is gone.
type Claim struct {
	Run   string   `json:"run"`
	Owner vm.Owner `json:"owner"`
	// VCPUs and MemoryMiB are what the run's guests get (vm.Footprint).
	VCPUs     int `json:"vcpus"`
	MemoryMiB int `json:"memory_mib"`
	// Booting: its guests are not all ready yet (they count against the
	// budget of booting vCPUs).
	Booting bool `json:"booting"`
	// Kept: the lab outlives its process on purpose (`e2e up`, -e2e.keep).
	Kept bool `json:"kept,omitempty"`
	// Exclusive names a resource only one run at a time may use: the
	// runner's bridge in host mode, which every run shares.
	Exclusive string    `json:"exclusive,omitempty"`
	Since     time.Time `json:"since"`
}

// holds: the claim still binds resources (its process lives, or it is kept).
func (c Claim) holds() bool { return c.Kept || c.Owner.Alive() }

// DefaultBudget fits the host. Under TCG every emulated vCPU is a thread
// that wants a whole core for the length of a boot: a second run's boot
// beside the first only stretches both (stall detection and deadlines are
// scaled by load, but the sum of CPU work stays), so booting vCPUs are
// held to two per core, which the reference topology's four capped guests
// fill on two cores: runs boot one after another and check side by side.
// Under KVM a vCPU costs a fraction of that: four per core. Memory keeps
// config.HostMemoryReserveMiB for the host, as lint does (topology.FitsHost).
func DefaultBudget(accel config.Accel, cores, memTotalMiB int) platform.Budget {
	perCore := 4
	if accel == config.AccelTCG {
		perCore = 2
	}
	return platform.Budget{BootingVCPUs: perCore * cores, MemoryMiB: max(memTotalMiB-config.HostMemoryReserveMiB, 0)}
}

// HostBudget is DefaultBudget for this machine's cores and memory.
func HostBudget(accel config.Accel) (platform.Budget, error) {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return platform.Budget{}, err
	}
	var kib int
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "MemTotal:"); ok {
			fmt.Sscanf(strings.TrimSpace(rest), "%d", &kib)
		}
	}
	if kib == 0 {
		return platform.Budget{}, errors.New("/proc/meminfo: no MemTotal")
	}
	return DefaultBudget(accel, runtime.NumCPU(), kib/1024), nil
}

// admissionReport is how often a waiting run says what it waits for.
const admissionReport = config.AdmissionReport

// admissible says whether c may start beside others, and if not, what it
// waits for. An error means it never can.
func admissible(c Claim, others []Claim, b platform.Budget) (wait string, err error) {
	if c.MemoryMiB > b.MemoryMiB {
		return "", fmt.Errorf("run %s: its guests need %d MiB, more than this host gives runs (%d MiB); cap them with E2E_MAX_MEMORY_MIB or use a smaller topology",
			c.Run, c.MemoryMiB, b.MemoryMiB)
	}
	var booting, memory int
	var bootingRuns, memoryRuns []string
	for _, o := range others {
		if c.Exclusive != "" && o.Exclusive == c.Exclusive {
			return fmt.Sprintf("run %s, which holds %s (only one run at a time can use it)", o.Run, c.Exclusive), nil
		}
		memory += o.MemoryMiB
		memoryRuns = append(memoryRuns, o.Run)
		if o.Booting {
			booting += o.VCPUs
			bootingRuns = append(bootingRuns, o.Run)
		}
	}
	switch {
	case memory+c.MemoryMiB > b.MemoryMiB:
		return fmt.Sprintf("memory: runs %s hold %d MiB of the %d MiB runs may use, this one needs %d",
			strings.Join(memoryRuns, ", "), memory, b.MemoryMiB, c.MemoryMiB), nil
	case booting > 0 && booting+c.VCPUs > b.BootingVCPUs:
		return fmt.Sprintf("vCPUs: runs %s boot %d vCPUs, and %d more would pass the %d this host boots at once",
			strings.Join(bootingRuns, ", "), booting, c.VCPUs, b.BootingVCPUs), nil
	}
	return "", nil
}

// AdmitInput is a run asking to start.
type AdmitInput struct {
	Claim  Claim
	Budget platform.Budget
	// Dir is the run registry (RegistryDir).
	Dir string
	// Poll paces the retries; Report how often a waiting run says so.
	Poll, Report time.Duration
	// Progress receives the waiting lines.
	Progress func(format string, args ...any)
}

// RegistryDir is where claims live: /run, so a host reboot (which ends
// every run) empties it.
const RegistryDir = "/run/drivelab/runs"

// A Ticket is an admitted run's claim.
type Ticket struct {
	dir   string
	claim Claim
}

// Admit waits until the run fits beside the runs that hold the host, then
// records its claim. It says what it waits for, and for how long.
func Admit(ctx context.Context, in AdmitInput) (*Ticket, error) {
	if err := os.MkdirAll(in.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("run registry: %w", err)
	}
	start := time.Now()
	lastSaid := time.Time{}
	err := wait.Until(ctx, wait.Input{What: "room on the host", Interval: in.Poll}, func(context.Context) (bool, string, error) {
		blocker, err := tryAdmit(in)
		if err != nil || blocker == "" {
			return err == nil, "", err
		}
		if time.Since(lastSaid) >= in.Report {
			in.Progress("admission: run %s waits for %s (waited %s)", in.Claim.Run, blocker, time.Since(start).Round(time.Second))
			lastSaid = time.Now()
		}
		return false, blocker, nil
	})
	switch {
	case wait.IsTimeout(err):
		return nil, fmt.Errorf("run %s was never admitted: %w", in.Claim.Run, err)
	case err != nil:
		return nil, err
	}
	if !lastSaid.IsZero() {
		in.Progress("admission: run %s admitted after waiting %s", in.Claim.Run, time.Since(start).Round(time.Second))
	}
	return &Ticket{dir: in.Dir, claim: in.Claim}, nil
}

// tryAdmit decides and, if admitted, writes the claim, under the registry's
// lock so that two runs cannot both take the last place.
func tryAdmit(in AdmitInput) (wait string, err error) {
	// The lock is held for a read and a write: no need to say one waits.
	unlock, err := lockfile.Lock(context.Background(), filepath.Join(in.Dir, ".lock"), nil)
	if err != nil {
		return "", fmt.Errorf("run registry: %w", err)
	}
	defer unlock()
	claims, err := Claims(in.Dir)
	if err != nil {
		return "", err
	}
	for _, o := range claims {
		if o.Run == in.Claim.Run && o.holds() && o.Owner.PID != in.Claim.Owner.PID {
			return "", fmt.Errorf("run id %s is in use by %s (started %s); give this run another id", o.Run, o.Owner, o.Since.Format(time.RFC3339))
		}
	}
	others := slices.DeleteFunc(claims, func(o Claim) bool { return o.Run == in.Claim.Run || !o.holds() })
	if wait, err = admissible(in.Claim, others, in.Budget); wait != "" || err != nil {
		return wait, err
	}
	return "", writeClaim(in.Dir, in.Claim)
}

// Claims lists the registry's claims, live or not.
func Claims(dir string) ([]Claim, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, err
	}
	var claims []Claim
	for _, f := range files {
		b, err := os.ReadFile(f)
		if errors.Is(err, os.ErrNotExist) {
			continue // released meanwhile
		}
		if err != nil {
			return nil, fmt.Errorf("run registry: %w", err)
		}
		var c Claim
		if err := json.Unmarshal(b, &c); err != nil {
			return nil, fmt.Errorf("run registry: %s: %w; remove the file if no run of that id is live", f, err)
		}
		claims = append(claims, c)
	}
	return claims, nil
}

func claimFile(dir, run string) string { return runid.ID(run).ClaimFile(dir) }

func writeClaim(dir string, c Claim) error {
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.Write(claimFile(dir, c.Run), append(b, '\n'), 0o644)
}

// Booted says the run's guests are ready: its vCPUs no longer count as booting.
func (t *Ticket) Booted() error { return t.update(func(c *Claim) { c.Booting = false }) }

// Keep says the run outlives its process on purpose.
func (t *Ticket) Keep() error { return t.update(func(c *Claim) { c.Kept = true }) }

func (t *Ticket) update(change func(*Claim)) error {
	if t == nil {
		return nil
	}
	change(&t.claim)
	return writeClaim(t.dir, t.claim)
}

// Release removes the claim; the run must have removed its resources.
func (t *Ticket) Release() error {
	if t == nil {
		return nil
	}
	return releaseClaim(t.dir, t.claim.Run)
}

func releaseClaim(dir, run string) error {
	if err := os.Remove(claimFile(dir, run)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("run registry: %w", err)
	}
	return nil
}
