package harness

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"

	libvirt "github.com/digitalocean/go-libvirt"

	"github.com/drivelab/drivelab/framework/config"
	"github.com/drivelab/drivelab/framework/lab"
	"github.com/drivelab/drivelab/framework/platform"
	"github.com/drivelab/drivelab/framework/runid"
	"github.com/drivelab/drivelab/framework/topology"
	"github.com/drivelab/drivelab/framework/vm"
)

// Libvirt is the platform of a libvirtd on this host: machines are its
// domains (framework/vm), a run's network is a namespace with a bridge
// (framework/lab). Open makes one from the settings.
type Libvirt struct {
	Conn vm.Libvirt
	Lab  lab.Config
	// Paths hold the pool, the state and the kept labs' records.
	Paths config.Paths
	// Image is the guest every node boots.
	Image vm.Image
	// Limits cap every node's size; Accel is the accelerator ("": detect);
	// Start says whether nodes are restored from snapshots or boot cold.
	Limits config.Limits
	Accel  config.Accel
	Start  config.Boot
	// Intervals bound every wait.
	Intervals config.Intervals
	// Registry is the host's run registry, where the reaper learns which
	// runs are alive.
	Registry string
	// Remote is the remote host libvirtd runs on, and Pool the folder of
	// its pool there; nil and "" are this machine and Paths.PoolDir.
	Remote *vm.Host
	Pool   string
	remote *remoteHost
}

var _ platform.Platform = (*Libvirt)(nil)

// Host is what the platform's runs share on the machine.
func (p *Libvirt) Host() Host {
	return Host{Conn: p.Conn, Lab: p.Lab, Paths: p.Paths, Registry: p.Registry}
}

func (p *Libvirt) Footprint(topo *topology.Topology) (vcpus, memoryMiB int, err error) {
	accel, err := vm.Accel(p.Conn, p.Accel)
	if err != nil {
		return 0, 0, err
	}
	vcpus, memoryMiB = vm.Footprint(topo, accel, p.Limits)
	return vcpus, memoryMiB, nil
}

func (p *Libvirt) Budget() (platform.Budget, error) {
	accel, err := vm.Accel(p.Conn, p.Accel)
	if err != nil {
		return platform.Budget{}, err
	}
	if p.Remote != nil {
		return remoteBudget(accel, p.Remote), nil
	}
	return HostBudget(accel)
}

func (p *Libvirt) Reap(ctx context.Context, say func(string, ...any)) error {
	return p.Host().ReapOrphans(ctx, p.Intervals.Teardown, say)
}

func (p *Libvirt) Network(run runid.ID) platform.Network {
	return segment{p.Lab.Segment(run.String())}
}

// segment is a run's lab.Segment as the platform's Network.
type segment struct{ lab.Segment }

func (s segment) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	return s.Dialer().DialContext(ctx, network, address)
}

func (s segment) Shared() string {
	if s.Segment.Shared {
		return "bridge " + s.Bridge
	}
	return ""
}

func (s segment) String() string {
	if s.Segment.Shared {
		return "bridge " + s.Bridge + " (shared)"
	}
	return fmt.Sprintf("netns %s, bridge %s", s.Namespace, s.Bridge)
}

// bootInput is the one place a vm.BootInput is made: every boot, snapshot
// and replacement goes through it, so none drops a field.
func (p *Libvirt) bootInput(in platform.BootInput) (bi vm.BootInput, err error) {
	seg, ok := in.Network.(segment)
	if !ok {
		return bi, fmt.Errorf("libvirt platform: network %v is not one of its own (Libvirt.Network makes them)", in.Network)
	}
	return vm.BootInput{
		Conn:         p.Conn,
		RunID:        in.Run.String(),
		Topology:     in.Topology,
		Image:        p.Image,
		Drives:       in.Drives,
		ArtifactsDir: in.ArtifactsDir,
		Intervals:    p.Intervals,
		Limits:       p.Limits,
		Accel:        p.Accel,
		PoolDir:      cmp.Or(p.Pool, p.Paths.PoolDir()),
		Host:         p.Remote,
		Dialer:       seg.Dialer(),
		Bridges:      seg.Bridges,
		Progress:     in.Progress,
		KernelArgs:   in.KernelArgs,
		GateSkip:     in.GateSkip,
		Boot:         p.Start,
	}, nil
}

func (p *Libvirt) Boot(ctx context.Context, in platform.BootInput) (platform.Cluster, error) {
	bi, err := p.bootInput(in)
	if err != nil {
		return nil, err
	}
	boot := vm.BootAll
	if in.Replace {
		boot = vm.Replace
	}
	run, err := boot(ctx, bi)
	if err != nil {
		return nil, err
	}
	return newCluster(run, in.Topology), nil
}

// MakeSnapshots makes (or finds) the memory snapshot of every node shape of
// topo, on a network of a run of its own, and returns their folders.
func (p *Libvirt) MakeSnapshots(ctx context.Context, topo *topology.Topology, progress io.Writer) ([]string, error) {
	run := runid.New()
	bi, err := p.bootInput(platform.BootInput{Run: run, Topology: topo, Network: p.Network(run), Progress: progress})
	if err != nil {
		return nil, err
	}
	return vm.MakeSnapshots(ctx, bi)
}

func (p *Libvirt) States(ctx context.Context, run runid.ID) (map[string]string, error) {
	doms, err := vm.List(p.Conn)
	if err != nil {
		return nil, err
	}
	states := map[string]string{}
	for _, d := range doms {
		if d.Owner.Run == run.String() {
			states[d.Owner.Node] = StateName(d.State)
		}
	}
	return states, nil
}

// cluster is a vm.Run as the platform's Cluster.
type cluster struct {
	run      *vm.Cluster
	machines []platform.Machine
}

func newCluster(run *vm.Cluster, topo *topology.Topology) *cluster {
	c := &cluster{run: run}
	for _, n := range run.Nodes {
		node, _ := topo.Node(n.Name)
		c.machines = append(c.machines, machine{node: n, run: run, addr: node.IP})
	}
	return c
}

func (c *cluster) Machines() []platform.Machine { return c.machines }

func (c *cluster) Destroy(ctx context.Context) error { return c.run.Teardown(ctx) }

func (c *cluster) Report() platform.BootReport {
	r := c.run
	rep := platform.BootReport{
		Accel: r.DomainType, Started: r.Started, AllReady: r.AllReady,
		Scale: platform.Scale{HostCores: r.Scale.HostCores, GuestVCPUs: r.Scale.GuestVCPUs, Factor: r.Scale.Factor, Text: r.Scale.String(), Detail: r.Scale},
	}
	for _, n := range r.Nodes {
		nr := platform.NodeReport{
			Name: n.Name, VCPUs: n.VCPUs, MemoryMiB: n.MemoryMiB,
			CPU: n.CPU, CloudInit: n.CloudInit, Ready: n.Ready, GuestUptime: n.Finished.Uptime,
			Path: n.Path(), GatePath: n.GatePath, Console: n.ConsoleLog,
		}
		for _, s := range n.Stages {
			nr.Stages = append(nr.Stages, platform.Stage{Name: string(s.Stage), Seen: s.Seen})
		}
		rep.Nodes = append(rep.Nodes, nr)
	}
	return rep
}

// machine is one node of a vm.Run.
type machine struct {
	node *vm.Node
	run  *vm.Cluster
	addr netip.Addr
}

func (m machine) Name() string                      { return m.node.Name }
func (m machine) Addresses() []netip.Addr           { return []netip.Addr{m.addr} }
func (m machine) Console() string                   { return m.node.ConsoleLog }
func (m machine) Destroy(ctx context.Context) error { return m.run.DestroyNode(ctx, m.node.Name) }
func (m machine) Identity() platform.Identity {
	return platform.Identity{Domain: m.node.Domain, Path: m.node.Path(), GatePath: m.node.GatePath}
}

// StateName is libvirt's state as virsh prints it ("shut off").
func StateName(s libvirt.DomainState) string {
	name := strings.TrimPrefix(s.String(), "Domain")
	switch s {
	case libvirt.DomainShutoff:
		return "shut off"
	case libvirt.DomainPmsuspended:
		return "pmsuspended"
	}
	return strings.ToLower(name)
}

// Close disconnects from libvirtd and the host.
func (p *Libvirt) Close() {
	if p.remote != nil {
		p.remote.close()
		return
	}
	if p.Conn != nil {
		p.Conn.Disconnect()
	}
}
