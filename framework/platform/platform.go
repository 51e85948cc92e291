// Package platform is the seam between a run's lifecycle (framework/harness)
// and what runs its machines, at the height of a machine, as CoreOS kola's
// platform.Machine and Cluster: a Platform boots a set of nodes from their
// config drives into a Cluster of Machines; it knows nothing of checks or
// verdicts. The host's libvirtd is one Platform (framework/harness/libvirt.go
// over framework/vm and framework/lab); framework/platform/memory is another,
// in memory, so the whole lifecycle can be tested without a hypervisor.
package platform

import (
	"context"
	"io"
	"net"
	"net/netip"
	"time"

	"github.com/drivelab/drivelab/framework/runid"
	"github.com/drivelab/drivelab/framework/topology"
)

// Platform is where a run's machines live.
type Platform interface {
	// Footprint is what topo's nodes take here, after the run's caps.
	Footprint(topo *topology.Topology) (vcpus, memoryMiB int, err error)
	// Budget is what all runs on the platform's host may take together.
	Budget() (Budget, error)
	// Reap removes what runs killed before their teardown left behind.
	Reap(ctx context.Context, say func(format string, args ...any)) error
	// Network names the run's own network; nothing is created until Create.
	Network(run runid.ID) Network
	// Boot boots in's nodes from their drives on in.Network and returns once
	// every one is ready for SSH. On failure nothing it created is left.
	Boot(ctx context.Context, in BootInput) (Cluster, error)
	// States are the run's machines that exist, by node, each with its
	// state as virsh names it ("running", "shut off", ...): how a kept lab
	// finds what still runs.
	States(ctx context.Context, run runid.ID) (map[string]string, error)
}

// A Budget is what runs may take of a host together.
type Budget struct {
	// BootingVCPUs bounds the vCPUs of runs whose guests boot at once; a run
	// alone is always admitted, however many it needs.
	BootingVCPUs int
	// MemoryMiB bounds the guest memory of all live and kept runs.
	MemoryMiB int
}

// Network is a run's own network: its bridge, and a way to reach its guests.
type Network interface {
	Create(ctx context.Context) error
	// Remove deletes the network; removing one that is gone is no error.
	Remove(ctx context.Context) error
	// DialContext connects to a guest's address (a literal IP:port).
	DialContext(ctx context.Context, network, address string) (net.Conn, error)
	// Shared names the network when runs share it (a runner's own bridge),
	// which makes the run exclusive; "" when the run has its own.
	Shared() string
	// String says where the network is, for progress lines.
	String() string
}

// BootInput is a set of nodes to boot.
type BootInput struct {
	Run runid.ID
	// Topology lists the nodes to boot: the run's, or with Replace a copy
	// holding only the nodes booted again.
	Topology *topology.Topology
	// Drives are each node's config drive image.
	Drives  map[string]string
	Network Network
	// ArtifactsDir receives the consoles and domain definitions.
	ArtifactsDir string
	// Progress receives one line per node state change.
	Progress io.Writer
	// KernelArgs append to a node's kernel command line; GateSkip makes a
	// node's boot gate skip a step (self-test variants and drills only).
	KernelArgs, GateSkip map[string]string
	// Replace: the nodes exist already (a kept lab after a template
	// change); remove them first, keeping their consoles as *.old.
	Replace bool
}

// Cluster is a booted set of machines.
type Cluster interface {
	Machines() []Machine
	// Report is what the boot measured, for the verdict and timings.
	Report() BootReport
	// Destroy removes every machine and its disks; consoles stay.
	Destroy(ctx context.Context) error
}

// Machine is one booted node.
type Machine interface {
	Name() string
	// Addresses are the node's static addresses, where SSH reaches it.
	Addresses() []netip.Addr
	// Console is the path of its serial console log.
	Console() string
	Identity() Identity
	// Destroy removes this machine alone.
	Destroy(ctx context.Context) error
}

// Identity is what names a machine on its platform.
type Identity struct {
	// Domain is the platform's name of it (libvirt's domain).
	Domain string
	// Path is how it started: "restored" from a memory snapshot or "cold";
	// GatePath what the image's boot gate saw.
	Path, GatePath string
}

// BootReport is what booting a cluster measured.
type BootReport struct {
	// Accel is the accelerator ("kvm", "tcg", "memory").
	Accel   string
	Started time.Time
	// AllReady is from Started until the last node was ready.
	AllReady time.Duration
	// Scale is how much the host stretched the boot's deadlines.
	Scale Scale
	Nodes []NodeReport
}

// Scale is a boot's deadline scale (framework/vm.DeadlineScale): Factor from
// the guests' vCPUs on the host's cores; Text says it in words, Detail is
// all that was measured, for timings.json.
type Scale struct {
	HostCores, GuestVCPUs int
	Factor                float64
	Text                  string
	Detail                any
}

// NodeReport is one node's boot.
type NodeReport struct {
	Name             string
	VCPUs, MemoryMiB int
	// CPU is the vCPU time used until ready; CloudInit and Ready are from
	// the run's start until cloud-init finished and SSH answered.
	CPU, CloudInit, Ready time.Duration
	// GuestUptime is the guest's own uptime at cloud-init's finished line.
	GuestUptime time.Duration
	// Stages are the boot stages in order, each with when it was first seen.
	Stages   []Stage
	Path     string
	GatePath string
	Console  string
}

// Stage is a boot stage and when it began.
type Stage struct {
	Name string
	Seen time.Time
}

// Path is the boot path of the whole run: "restored", "cold", or "mixed".
func (r BootReport) Path() string {
	path := ""
	for _, n := range r.Nodes {
		switch {
		case path == "":
			path = n.Path
		case path != n.Path:
			return "mixed"
		}
	}
	return path
}

// Slowest is the node whose cloud-init took longest by the guest's own
// clock (its "Up N seconds").
func (r BootReport) Slowest() NodeReport {
	var slow NodeReport
	for _, n := range r.Nodes {
		if n.GuestUptime >= slow.GuestUptime {
			slow = n
		}
	}
	return slow
}
