// Package config holds the harness's named waits and well-known paths. Every
// wait in the harness is one of these intervals or named constants, and
// every poll goes through framework/wait; none is a bare number.
package config

import (
	"path/filepath"
	"time"
)

// Intervals are the named timeouts and poll periods of a run.
// Each can be overridden by the environment variable E2E_<NAME> (upper case),
// e.g. E2E_CLOUD_INIT=15m, in Go duration syntax.
type Intervals struct {
	// Stall: how long a booting guest may make no progress (no vCPU time
	// beyond idle, no console output) before it is failed as stuck.
	Stall time.Duration `env:"STALL"`
	// CloudInit: domain started until cloud-init reports "finished", on a
	// host with a core per guest vCPU; a safety net, stretched by the
	// boot's deadline scale (vm.DeadlineScale) on slower or busier hosts.
	CloudInit time.Duration `env:"CLOUD_INIT"`
	// SSH: cloud-init finished until the node accepts the harness's key,
	// stretched like CloudInit.
	SSH time.Duration `env:"SSH"`
	// Command: one remote command or HTTP request batch.
	Command time.Duration `env:"COMMAND"`
	// Failover: a service on a node stopped or started until the nodes that
	// health-check it have seen the change.
	Failover time.Duration `env:"FAILOVER"`
	// Admission: how long a run may wait for room on the host (other runs
	// booting, or holding its memory) before it gives up.
	Admission time.Duration `env:"ADMISSION"`
	// Teardown: destroying domains and volumes of a run.
	Teardown time.Duration `env:"TEARDOWN"`
	// Poll: how often a wait looks again.
	Poll time.Duration `env:"POLL"`
}

// CheckBudget bounds one check: a handful of remote commands.
func (iv Intervals) CheckBudget() time.Duration { return 6 * iv.Command }

// UpBudget bounds a run's way up: admission, boot, cloud-init and SSH, and
// the teardown after a failure.
func (iv Intervals) UpBudget() time.Duration {
	return iv.Admission + iv.CloudInit + iv.SSH + iv.Teardown
}

// Accel says how guests are executed.
type Accel string

const (
	AccelKVM Accel = "kvm"
	AccelTCG Accel = "qemu" // libvirt's domain type for TCG emulation
)

// ChecksAtOnce is how many checks a lab runs at the same time under accel
// on a host of hostCores; 0 means all of them. Under TCG every session's
// processes are emulated on the host's cores, and a node's single vCPU
// switching between many of them costs more than it overlaps: all nine
// checks of the load balancer at once took 18-21 s and 29 s of guest CPU
// on a kept lab here, two at a time 13-15 s and 22 s.
func ChecksAtOnce(a Accel, hostCores int) int {
	if a == AccelKVM {
		return 0
	}
	return max(hostCores, 1)
}

// DefaultIntervals fit the accelerator: under TCG a guest boots about ten
// times slower than under KVM, and four guests share two host cores.
func DefaultIntervals(a Accel) Intervals {
	if a == AccelKVM {
		return Intervals{
			Stall:     30 * time.Second,
			CloudInit: 3 * time.Minute,
			SSH:       time.Minute,
			Command:   30 * time.Second,
			Failover:  20 * time.Second,
			Admission: 15 * time.Minute,
			Teardown:  time.Minute,
			Poll:      200 * time.Millisecond,
		}
	}
	return Intervals{
		Stall:     time.Minute,
		CloudInit: 10 * time.Minute,
		SSH:       3 * time.Minute,
		Command:   90 * time.Second,
		Failover:  45 * time.Second,
		Admission: 30 * time.Minute,
		Teardown:  2 * time.Minute,
		Poll:      250 * time.Millisecond,
	}
}

// Named waits outside Intervals, each for code that takes no Intervals or
// paces something other than a run's waits.
const (
	// LockPoll is how often a waiter for a lock file (framework/lockfile)
	// tries again: locks are held for seconds to minutes, and Lock takes
	// no Intervals.
	LockPoll = 200 * time.Millisecond
	// LibvirtReconnect is how often a teardown tries to reach a libvirtd
	// that restarted again (vm.DownAll and DownRun take only a limit); a
	// restarted libvirtd answers within a second or two.
	LibvirtReconnect = 250 * time.Millisecond
	// AdmissionReport is how often a run waiting for room on the host says
	// what it waits for.
	AdmissionReport = 30 * time.Second
	// Heartbeat is how often a boot prints where every node is while
	// nothing changes, so that a slow boot never looks hung.
	Heartbeat = 30 * time.Second
	// DrillWatch is how often a fault drill reads a booting node's console
	// for its moment: the fault's time is measured from what it sees, so
	// this is the resolution of the fault-to-verdict figure.
	DrillWatch = 50 * time.Millisecond
	// FaultToVerdict is what every fault drill must meet: a fault reported
	// with its cause within this long of happening.
	FaultToVerdict = 30 * time.Second
	// RenderTimeout bounds one template's rendering: the largest renders
	// in well under a millisecond, so only a template that loops without
	// end reaches it.
	RenderTimeout = 10 * time.Second
)

// HostMemoryReserveMiB is the memory no run's guests may take: the host's
// own. Admission's budget and lint's check of a topology against the host
// both leave it, so that lint passes exactly the topologies admission takes.
const HostMemoryReserveMiB = 2048

// Paths are where the harness keeps things outside the repository.
type Paths struct {
	// Cache holds the guest image and package bundles, keyed by recipe hash.
	Cache string
	// State holds running labs: keys, overlays, drives, run records.
	State string
	// Artifacts receives consoles, logs and rendered drives of each run.
	Artifacts string
}

// Default places, where the environment names none.
const (
	DefaultCacheDir     = "/var/cache/drivelab"
	DefaultStateDir     = "/var/lib/drivelab"
	DefaultArtifactsDir = "artifacts"
)

// PoolDir is where the harness's libvirt storage pool keeps its files.
func (p Paths) PoolDir() string { return filepath.Join(p.State, "pool") }
