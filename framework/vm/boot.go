package vm

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	libvirt "github.com/digitalocean/go-libvirt"
	"libvirt.org/go/libvirtxml"

	"github.com/drivelab/drivelab/framework/atomicfile"
	"github.com/drivelab/drivelab/framework/config"
	"github.com/drivelab/drivelab/framework/lab"
	"github.com/drivelab/drivelab/framework/runid"
	"github.com/drivelab/drivelab/framework/topology"
	"github.com/drivelab/drivelab/framework/wait"
)

// DefaultHeartbeat is how often BootAll prints where every node is while
// nothing changes, so a slow boot never looks hung.
const DefaultHeartbeat = config.Heartbeat

// Image is what every node boots from.
type Image struct {
	// Disk is the base image (qcow2 or raw); each node gets a qcow2 overlay
	// over it and it is never written.
	Disk string
	// Kernel, Initrd and Cmdline boot the kernel directly; with no Kernel the
	// disk's own bootloader boots.
	Kernel, Initrd, Cmdline string
	// Format and Size are Disk's format and virtual size when Disk is on
	// another machine (a remote host); "" and 0 read them from Disk.
	Format string
	Size   uint64
}

// BootInput is everything BootAll needs.
type BootInput struct {
	Conn     Libvirt
	RunID    string
	Topology *topology.Topology
	Image    Image
	// Drives maps every node name to its config-2 ISO.
	Drives map[string]string
	// ArtifactsDir receives each node's console log and domain XML.
	ArtifactsDir string
	// Intervals: Boot, CloudInit and SSH bound the waits, Teardown the
	// cleanup, Poll paces every look. Pick them with Accel and
	// config.DefaultIntervals.
	Intervals config.Intervals
	// Limits cap every node's size (config.Settings.Limits).
	Limits config.Limits
	// Accel forces the accelerator; "": detect it (see Accel).
	Accel config.Accel
	// PoolDir is where the storage pool keeps its files when BootAll
	// creates it (config.Paths.PoolDir).
	PoolDir string
	// Dialer reaches the guests' SSH port (the run's lab.Segment dialer).
	Dialer lab.Dialer
	// Bridges are what the guests' NICs attach to, by network (the run's
	// lab.Segment); a network missing here: the topology's bridge for it.
	Bridges map[string]string
	// Progress receives a line per node state change and a heartbeat; nil discards.
	Progress io.Writer
	// Heartbeat is the period of the summary line; 0 means DefaultHeartbeat.
	Heartbeat time.Duration
	// KernelArgs appends to a node's kernel command line (direct kernel
	// boot only), by node name: a debugging knob, and how the fault drills
	// make a kernel panic or an emergency shell. Such a node boots cold.
	KernelArgs map[string]string
	// GateSkip makes nodes' gates skip steps of the restored branch, by node
	// name (drivelab.gate_skip=STEPS; see drivelab-gate): how the self-test
	// shows the identity check catches a node that kept its snapshot's
	// clock, random state or machine-id. Such a node restores from a
	// snapshot of its own, made with that command line.
	GateSkip map[string]string
	// Host is the machine libvirtd runs on when it is not this one: the
	// Image's files are there, its consoles are copied here.
	Host *Host
	// Boot is how nodes start (config.Settings.BootFor); "" boots cold.
	// Under config.BootSnapshot a node is restored from a memory snapshot
	// of its shape, made on first use; a node with KernelArgs boots cold.
	Boot config.Boot
}

// Node is one booted node of a run and what its boot measured.
type Node struct {
	Name   string
	Domain string
	IP     string
	// VCPUs and MemoryMiB are what the domain got, after E2E_MAX_* caps.
	VCPUs, MemoryMiB int
	// ConsoleLog and DomainXML are files in the artifacts folder.
	ConsoleLog, DomainXML string
	// CloudInit is the time from the run's start until cloud-init's finished
	// line appeared; Ready until the SSH port answered too.
	CloudInit, Ready time.Duration
	// Finished is cloud-init's finished line, with the guest's own uptime.
	Finished Finished
	// Stages are the boot stages the node went through, timed from its domain's start.
	Stages []StageTime
	// CPU is the vCPU time the guest used until it was ready (or failed).
	CPU time.Duration
	// Snapshot is the memory snapshot the node was restored from; "" when
	// it booted cold.
	Snapshot string
	// GatePath is the boot the image's gate saw, "cold" or "restored"
	// (drivelab-gate); BootAll fails a node whose gate saw another boot
	// than Path.
	GatePath string

	restore *restorePlan
}

// Path is how the harness started the node: "restored" from a memory
// snapshot, or "cold".
func (n *Node) Path() string {
	if n.Snapshot != "" {
		return "restored"
	}
	return "cold"
}

// Cluster is a booted topology. Teardown removes it.
type Cluster struct {
	ID         string
	DomainType string
	Started    time.Time
	// AllReady is the time from Started until the last node was ready.
	AllReady time.Duration
	// Scale is how much this host stretched the boot's deadlines.
	Scale DeadlineScale
	// Nodes are in topology order.
	Nodes []*Node

	conn      Libvirt
	pool      libvirt.StoragePool
	intervals config.Intervals
	out       *reporter
	// remote names the remote host the run is on ("": this machine);
	// follow copies its consoles here (BootInput.Host).
	remote string
	follow followers
}

// Node returns the node with the given name, or nil.
func (r *Cluster) Node(name string) *Node {
	i := slices.IndexFunc(r.Nodes, func(n *Node) bool { return n.Name == name })
	if i < 0 {
		return nil
	}
	return r.Nodes[i]
}

// SlowestCloudInit is the node whose cloud-init took longest by the guest's
// own clock (its "Up N seconds").
func (r *Cluster) SlowestCloudInit() *Node {
	return slices.MaxFunc(r.Nodes, func(a, b *Node) int { return int(a.Finished.Uptime - b.Finished.Uptime) })
}

// BootAll defines every node of the topology as a domain, starts them all
// at once and waits, in parallel, until each is ready: cloud-init's
// finished line is on its serial console and its SSH port answers through
// the lab's dialer. Bad input is reported, all of it, before anything is
// created. On any failure, timeout or cancellation everything created is
// removed again and the error names the node and quotes its console.
func BootAll(ctx context.Context, in BootInput) (*Cluster, error) {
	started := time.Now()
	limits := Limits(in.Limits)
	if err := checkInput(in, limits); err != nil {
		return nil, fmt.Errorf("cannot boot: %w", err)
	}
	if err := checkLibvirt(ctx, in); err != nil {
		return nil, fmt.Errorf("cannot boot: %w", err)
	}
	artifacts, err := absDir(in.ArtifactsDir)
	if err != nil {
		return nil, err
	}
	accel, err := Accel(in.Conn, in.Accel)
	if err != nil {
		return nil, err
	}
	out := &reporter{w: in.Progress, start: started}
	if accel == config.AccelTCG {
		out.printf("vm: warning: no usable KVM (it needs libvirt's kvm domain type, /dev/kvm and the vmx or svm CPU flag): guests run under TCG emulation, many times slower")
	}
	pool, err := EnsurePool(in.Conn, in.PoolDir)
	if err != nil {
		return nil, err
	}
	limits = limits.forAccel(accel)
	vcpus := 0
	for _, n := range in.Topology.Nodes {
		v, _ := limits.size(n)
		vcpus += v
		if v < n.VCPUs {
			out.printf("vm: %s: %d vCPUs capped to %d (%s)", n.Name, n.VCPUs, v, limits.why(accel))
		}
	}
	run := &Cluster{ID: in.RunID, DomainType: string(accel), Started: started, conn: in.Conn, pool: pool, intervals: in.Intervals, out: out,
		Scale: NewDeadlineScale(accel, in.hostCores(), vcpus, in.hostLoad(), calibrate())}
	if in.Host != nil {
		run.remote = in.Host.Name
	}
	out.printf("vm: run %s: %d nodes, domain type %s, consoles in %s", run.ID, len(in.Topology.Nodes), accel, artifacts)
	out.printf("vm: %s; a guest with no progress for %s is stuck", run.Scale, in.Intervals.Stall)

	// From here on, whatever fails takes the whole run down again.
	fail := func(err error) (*Cluster, error) {
		if terr := run.Teardown(ctx); terr != nil {
			err = errors.Join(err, terr)
		}
		return nil, err
	}
	snapshots, err := run.snapshots(ctx, in, limits)
	if err != nil {
		return fail(err)
	}
	doms := make([]libvirt.Domain, len(in.Topology.Nodes))
	for i, n := range in.Topology.Nodes {
		if err := context.Cause(ctx); err != nil {
			return fail(fmt.Errorf("boot of run %s interrupted while defining domains: %w", run.ID, err))
		}
		node, dom, err := run.define(in, n, limits, artifacts, snapshots[snapshotShape(in, n, limits)])
		if node != nil {
			run.Nodes = append(run.Nodes, node)
		}
		if err != nil {
			return fail(fmt.Errorf("node %s: %w", n.Name, err))
		}
		doms[i] = dom
		out.state(node, "defined", node.Domain)
	}

	// Start everything at once; the first node to fail cancels the others.
	bootCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var wg sync.WaitGroup
	for i, node := range run.Nodes {
		wg.Go(func() {
			if err := run.bootNode(bootCtx, in, node, doms[i]); err != nil {
				cancel(err)
			}
		})
	}
	stopBeat := out.heartbeat(cmp.Or(in.Heartbeat, DefaultHeartbeat))
	wg.Wait()
	stopBeat()
	if err := context.Cause(bootCtx); err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("boot of run %s interrupted: %w", run.ID, context.Cause(ctx))
		}
		return fail(err)
	}
	run.AllReady = time.Since(started)
	slow := run.SlowestCloudInit()
	out.printf("vm: run %s: all %d nodes ready after %.1fs; slowest cloud-init: %s, %.1fs of guest uptime",
		run.ID, len(run.Nodes), run.AllReady.Seconds(), slow.Name, slow.Finished.Uptime.Seconds())
	return run, nil
}

// bridgeOf is the bridge of a network.
func (in BootInput) bridgeOf(network string) string {
	nw, _ := in.Topology.NetworkNamed(network)
	return cmp.Or(in.Bridges[network], nw.Bridge)
}

// nics are node n's physical NICs, each on the bridge of the network its
// wire is on (topology.NIC.Wire).
func (in BootInput) nics(n topology.Node) []NICSpec {
	var out []NICSpec
	for _, c := range n.PhysicalNICs() {
		out = append(out, NICSpec{MAC: c.MAC, Bridge: in.bridgeOf(c.Wire)})
	}
	return out
}

// snapshotShape is the snapshot shape node n restores from; the zero
// Shape when it boots cold.
func snapshotShape(in BootInput, n topology.Node, limits Limits) Shape {
	if in.Boot != config.BootSnapshot || in.KernelArgs[n.Name] != "" || in.Image.Kernel == "" {
		return Shape{}
	}
	v, m := limits.size(n)
	s := Shape{VCPUs: v, MemoryMiB: m}
	if skip := in.GateSkip[n.Name]; skip != "" {
		s.Args = "drivelab.gate_skip=" + skip
	}
	return s
}

// snapshots finds or makes the memory snapshot of every shape the run restores.
func (r *Cluster) snapshots(ctx context.Context, in BootInput, limits Limits) (map[Shape]*Snapshot, error) {
	var shapes []Shape
	for _, n := range in.Topology.Nodes {
		if s := snapshotShape(in, n, limits); s != (Shape{}) && !slices.Contains(shapes, s) {
			shapes = append(shapes, s)
		}
	}
	if len(shapes) == 0 {
		return nil, nil
	}
	return ensureSnapshots(ctx, snapshotInput{
		conn: r.conn, run: r.ID, img: in.Image, accel: r.DomainType,
		wait: r.Scale.Stretch(in.Intervals.CloudInit), poll: in.Intervals.Poll, out: r.out,
		domainFor: snapshotGuest(in, r.DomainType, r.ID),
	}, shapes)
}

// snapshotGuest makes the domain of a snapshot's guest: a node's domain of
// its shape with an empty CD-ROM drive and no NIC yet.
func snapshotGuest(in BootInput, accel, run string) func(name string, s Shape, disk, console string) *libvirtxml.Domain {
	return func(name string, s Shape, disk, console string) *libvirtxml.Domain {
		return New(WithName(name), WithDomainType(accel), WithVCPUs(s.VCPUs), WithMemoryMiB(s.MemoryMiB),
			WithDisk(disk), WithEmptyCDROM(), WithSerialLog(console), WithOwner(ProcessOwner(run, "snapshot-"+s.String())),
			WithKernel(in.Image.Kernel, in.Image.Initrd, strings.TrimSpace(in.Image.Cmdline+" "+s.Args)))
	}
}

// MakeSnapshots finds or makes, ahead of a run, the memory snapshots a
// snapshot boot of in.Topology restores from, and returns their folders.
// BootAll makes the missing ones itself, but inside the run's time; `e2e
// image snapshots` (make e2e) makes them with the image.
func MakeSnapshots(ctx context.Context, in BootInput) ([]string, error) {
	accel, err := Accel(in.Conn, in.Accel)
	if err != nil {
		return nil, err
	}
	limits := Limits(in.Limits).forAccel(accel)
	r := &Cluster{ID: in.RunID, DomainType: string(accel), conn: in.Conn, out: &reporter{w: in.Progress, start: time.Now()},
		Scale: NewDeadlineScale(accel, runtime.NumCPU(), 1, hostLoad(), calibrate())}
	snaps, err := r.snapshots(ctx, in, limits)
	var dirs []string
	for _, sn := range snaps {
		dirs = append(dirs, filepath.Dir(sn.Memory))
	}
	slices.Sort(dirs)
	return dirs, err
}

// define creates a node's overlay and drive volumes and defines its domain:
// a fresh one, or snap's saved one made the node's. The node is returned as
// soon as something of it may exist, for teardown.
func (r *Cluster) define(in BootInput, n topology.Node, limits Limits, artifacts string, snap *Snapshot) (*Node, libvirt.Domain, error) {
	var dom libvirt.Domain
	name := DomainName(r.ID, n.Name)
	vcpus, mem := limits.size(n)
	node := &Node{
		Name: n.Name, Domain: name, IP: n.IP.String(), VCPUs: vcpus, MemoryMiB: mem,
		ConsoleLog: runid.ID(r.ID).ConsoleLog(artifacts, n.Name),
		DomainXML:  filepath.Join(artifacts, name+".domain.xml"),
	}
	base := in.Image.Disk
	if snap != nil {
		base = snap.Disk
	}
	format, size := in.Image.Format, in.Image.Size
	if snap != nil || size == 0 {
		var err error
		if format, size, err = DiskInfo(base); err != nil {
			return node, dom, err
		}
	}
	disk, err := createOverlay(r.conn, r.pool, diskVolume(r.ID, n.Name), base, format, size)
	if err != nil {
		return node, dom, err
	}
	drive, err := uploadFile(r.conn, r.pool, driveVolume(r.ID, n.Name), in.Drives[n.Name])
	if err != nil {
		return node, dom, err
	}
	var d *libvirtxml.Domain
	if snap != nil {
		d, err = r.restoredDomain(in, n, node, snap, disk, drive)
		if err != nil {
			return node, dom, err
		}
	} else {
		d = r.coldDomain(in, n, node, vcpus, mem, disk, drive)
	}
	if in.Host != nil {
		// virtlogd writes the console on the host; a copy here is what the
		// boot's judgement and the artifacts read.
		remote := path.Join(in.Host.ConsoleDir, consoleVolume(r.ID, n.Name))
		d.Devices.Serials[0].Log.File = remote
		r.follow.follow(in.Host, n.Name, remote, node.ConsoleLog)
	}
	x, err := d.Marshal()
	if err != nil {
		return node, dom, err
	}
	if err := atomicfile.Write(node.DomainXML, []byte(x), 0o644); err != nil {
		return node, dom, err
	}
	dom, err = r.conn.DomainDefineXML(x)
	if err != nil {
		return node, dom, fmt.Errorf("defining domain %s: %w (its XML is in %s)", node.Domain, err, node.DomainXML)
	}
	return node, dom, nil
}

// coldDomain is a node's domain booting from its kernel.
func (r *Cluster) coldDomain(in BootInput, n topology.Node, node *Node, vcpus, mem int, disk, drive string) *libvirtxml.Domain {
	opts := []Option{
		WithName(node.Domain),
		WithDomainType(r.DomainType),
		WithVCPUs(vcpus),
		WithMemoryMiB(mem),
		WithDisk(disk),
		WithConfigDrive(drive),
		WithSerialLog(node.ConsoleLog),
		WithOwner(ProcessOwner(r.ID, n.Name)),
	}
	for _, c := range in.nics(n) {
		opts = append(opts, WithNIC(c.MAC, c.Bridge))
	}
	if in.Image.Kernel != "" {
		opts = append(opts, WithKernel(in.Image.Kernel, in.Image.Initrd, strings.TrimSpace(in.Image.Cmdline+" "+in.KernelArgs[n.Name])))
	}
	return New(opts...)
}

// restoredDomain is a node's domain restored from snap: its save image is
// written for it, and its drive and NIC wait to go in (restorePlan).
func (r *Cluster) restoredDomain(in BootInput, n topology.Node, node *Node, snap *Snapshot, overlay, drive string) (*libvirtxml.Domain, error) {
	d, err := snap.nodeDomain(node.Domain, ProcessOwner(r.ID, n.Name), overlay, node.ConsoleLog)
	if err != nil {
		return nil, err
	}
	// Beside the overlay, in the pool, where teardown and the reaper find it.
	plan := &restorePlan{snapshot: filepath.Dir(snap.Memory), image: filepath.Join(filepath.Dir(overlay), saveVolume(r.ID, n.Name))}
	medium := cdrom(drive)
	if plan.drive, err = medium.Marshal(); err != nil {
		return nil, err
	}
	for i, c := range in.nics(n) {
		iface := nic(c, i)
		x, err := iface.Marshal()
		if err != nil {
			return nil, err
		}
		plan.nics = append(plan.nics, x)
	}
	if err := snap.writeNodeImage(plan.image, d); err != nil {
		return nil, fmt.Errorf("writing %s's save image: %w", node.Domain, err)
	}
	node.restore, node.Snapshot = plan, plan.snapshot
	return d, nil
}

// restorePlan is how a node defined from a snapshot starts: restored
// paused from its own save image, its config drive inserted into the
// CD-ROM drive the snapshot was saved with (a media change: /dev/sr0, as on
// a cold boot and on a cloud), its NICs plugged in at a cold boot's PCI
// addresses, eth0 first, resumed. The gate in the guest waits for the
// drive and for every NIC its network_data.json names.
type restorePlan struct {
	snapshot, image, drive string
	nics                   []string
}

func (p *restorePlan) start(conn Libvirt, dom libvirt.Domain) error {
	err := conn.DomainRestoreFlags(p.image, nil, uint32(libvirt.DomainSavePaused))
	os.Remove(p.image) // the restored domain does not need it; teardown covers a crash before this
	if err != nil {
		return fmt.Errorf("restoring from its memory snapshot %s: %w (remove that folder to make it again, or boot cold with E2E_BOOT=cold)", p.snapshot, err)
	}
	if err := conn.DomainUpdateDeviceFlags(dom, p.drive, libvirt.DomainDeviceModifyLive); err != nil {
		return fmt.Errorf("inserting the config drive into the CD-ROM drive: %w", err)
	}
	for _, x := range p.nics {
		if err := conn.DomainAttachDeviceFlags(dom, x, uint32(libvirt.DomainAffectLive)); err != nil {
			return fmt.Errorf("plugging in the NIC %s: %w", x, err)
		}
	}
	return conn.DomainResume(dom)
}

// start starts a defined node, cold from its kernel or restored, and
// writes its domain XML as libvirt runs it (device addresses, the CD-ROM's
// medium) to the artifacts.
func (r *Cluster) start(node *Node, dom libvirt.Domain) error {
	var err error
	if node.restore != nil {
		err = node.restore.start(r.conn, dom)
	} else {
		err = r.conn.DomainCreate(dom)
	}
	if err != nil {
		return err
	}
	x, err := r.conn.DomainGetXMLDesc(dom, 0)
	if err != nil {
		return fmt.Errorf("reading its running domain XML: %w", err)
	}
	return atomicfile.Write(node.DomainXML, []byte(x), 0o644)
}

// bootNode starts a node's domain and follows it until it is ready. It
// ends early, with the cause, when the console shows a fault, when the
// domain stops, when libvirtd goes away, or when the guest makes no
// progress for the Stall interval; the deadline is only a safety net.
func (r *Cluster) bootNode(ctx context.Context, in BootInput, node *Node, dom libvirt.Domain) error {
	if err := r.start(node, dom); err != nil {
		return fmt.Errorf("node %s: starting domain %s: %w", node.Name, node.Domain, err)
	}
	iv := in.Intervals
	t0 := time.Now()
	deadline := t0.Add(r.Scale.Stretch(iv.CloudInit))
	var sshBy time.Time
	con := &console{path: node.ConsoleLog}
	watch := &livenessWatch{rules: DefaultLiveness(iv.Stall)}
	var last Sample
	seen := 0 // console stages entered
	stage := StageFirmware
	enter := func(s Stage, at time.Time, detail string) {
		stage = s
		node.Stages = append(node.Stages, StageTime{Stage: s, Seen: at})
		r.out.state(node, string(s), detail)
	}
	if node.restore != nil {
		enter(StageRestore, t0, "from "+node.Snapshot)
	} else {
		enter(StageFirmware, t0, "")
	}
	failf := func(cause error) error {
		return &BootError{Node: node.Name, Domain: node.Domain, Cause: cause, Stage: stage,
			StageAt: node.Stages[len(node.Stages)-1].Seen.Sub(t0), After: time.Since(t0), CPU: last.CPU,
			LastLine: con.lastLine(), ConsoleLog: node.ConsoleLog, Tail: con.Tail()}
	}

	// Every way the boot fails is final (failf); only ctx ends the wait.
	return wait.Until(ctx, wait.Input{What: "node " + node.Name + " to be ready", Interval: iv.Poll}, func(ctx context.Context) (bool, string, error) {
		now := time.Now()
		if err := con.readAt(now); err != nil {
			return false, "", failf(fmt.Errorf("reading the console: %w", err))
		}
		s, err := r.sample(dom, now, con.off)
		if err != nil {
			return false, "", failf(err)
		}
		last = s
		node.CPU = s.CPU
		for ; seen < len(con.stages); seen++ {
			enter(con.stages[seen].Stage, con.stages[seen].Seen, "")
		}
		if f := con.fault; f != nil {
			return false, "", failf(fmt.Errorf("guest fault (%s) on the console: %q", f.Kind, f.Line))
		}
		if p := con.gatePath; p != "" && node.GatePath == "" {
			node.GatePath = p
			if err := checkGatePath(node.Path(), p); err != nil {
				return false, "", failf(err)
			}
		}
		if f := con.finished; f != nil && stage != StageSSH {
			node.Finished, node.CloudInit = *f, time.Since(r.Started)
			if err := checkFinished(*f, node.GatePath, in.Image.Kernel != ""); err != nil {
				return false, "", failf(err)
			}
			sshBy = now.Add(r.Scale.Stretch(iv.SSH))
			enter(StageSSH, now, fmt.Sprintf("cloud-init %s finished, guest up %.1fs (%s)", f.Version, f.Uptime.Seconds(), f.Datasource))
		}
		if stage == StageSSH {
			n, _ := in.Topology.Node(node.Name)
			addr, direct := in.Topology.LabAddr(n)
			if !direct {
				// Only a node it shares a network with reaches it: the
				// harness's login through that node (harness.Connect)
				// awaits its sshd.
				node.Ready = time.Since(r.Started)
				enter(StageReady, time.Now(), "no network of the run's namespace: sshd awaited through its hop")
				return true, "", nil
			}
			if err := probeSSH(ctx, in.Dialer, addr, sshBy); err == nil {
				node.Ready = time.Since(r.Started)
				enter(StageReady, time.Now(), "")
				return true, "", nil
			} else if time.Now().After(sshBy) {
				return false, "", failf(fmt.Errorf("cloud-init finished but %s did not answer within %s (SSH x%.1f): %v", netip.AddrPortFrom(addr, 22), r.Scale.Stretch(iv.SSH), r.Scale.Factor, err))
			}
		} else if err := watch.observe(s); err != nil {
			return false, "", failf(err)
		} else if now.After(deadline) {
			return false, "", failf(fmt.Errorf("cloud-init did not finish within %s (CloudInit %s x%.1f for this host), though the guest kept making progress",
				r.Scale.Stretch(iv.CloudInit), iv.CloudInit, r.Scale.Factor))
		}
		return false, fmt.Sprintf("%s, %s, %.1fs of vCPU time", stage, s.State, s.CPU.Seconds()), nil
	})
}

// checkGatePath holds the boot the image's gate saw against the one the
// harness made.
func checkGatePath(harness, gate string) error {
	if gate != harness {
		return fmt.Errorf("the image's gate opened for a %s boot, but the harness %s the node", gate, map[string]string{"cold": "booted cold", "restored": "restored"}[harness])
	}
	return nil
}

// checkFinished judges cloud-init's finished line: it found its drive, on
// the CD-ROM where a cloud puts it, after the gate (in the harness's own
// image, which has one) said which boot it opened for.
func checkFinished(f Finished, gatePath string, ownImage bool) error {
	switch {
	case strings.Contains(f.Datasource, "DataSourceNone"):
		return fmt.Errorf("cloud-init finished without a datasource (%s): the config drive was not found; check that it is an ISO labelled config-2", f.Datasource)
	case ownImage && gatePath == "":
		return fmt.Errorf("cloud-init finished, but the image's gate (drivelab-gate) never said which boot it opened for")
	case !strings.Contains(f.Datasource, "[source="+GuestDrive+"]"):
		return fmt.Errorf("cloud-init read its config drive from elsewhere than the CD-ROM %s, where a cloud puts it (%s)", GuestDrive, f.Datasource)
	}
	return nil
}

// sample looks at a domain once: its state and the vCPU time it used.
func (r *Cluster) sample(dom libvirt.Domain, now time.Time, console int64) (Sample, error) {
	s := Sample{At: now, Console: console}
	st, reason, err := r.conn.DomainGetState(dom, 0)
	if err != nil {
		if isNotFound(err) && r.conn.IsConnected() {
			return s, &GuestDeadError{State: "undefined"}
		}
		return s, r.callError("domain state", err)
	}
	s.State = stateString(libvirt.DomainState(st), reason)
	s.Running = libvirt.DomainState(st) == libvirt.DomainRunning
	if !s.Running {
		return s, nil
	}
	_, _, _, _, cpu, err := r.conn.DomainGetInfo(dom)
	if err != nil {
		return s, r.callError("domain info", err)
	}
	s.CPU = time.Duration(cpu)
	return s, nil
}

// callError is a failed libvirt call's error: the lost connection when
// libvirtd went away, whichever call of a sample it cut short. go-libvirt
// fails the calls in flight (ErrInterrupted) before it marks itself
// disconnected, so IsConnected alone can still say true then.
func (r *Cluster) callError(call string, err error) error {
	if errors.Is(err, libvirt.ErrInterrupted) || !r.conn.IsConnected() {
		if r.remote != "" {
			return fmt.Errorf("lost the connection to libvirtd on host %s (its libvirtd or its SSH connection went away): %w", r.remote, err)
		}
		return fmt.Errorf("lost the connection to libvirtd (it stopped or restarted): %w", err)
	}
	return fmt.Errorf("%s: %w", call, err)
}

// stateString names a libvirt state and, where it says more, its reason.
func stateString(st libvirt.DomainState, reason int32) string {
	names := map[libvirt.DomainState]string{
		libvirt.DomainNostate: "no state", libvirt.DomainRunning: "running", libvirt.DomainBlocked: "blocked",
		libvirt.DomainPaused: "paused", libvirt.DomainShutdown: "shutting down", libvirt.DomainShutoff: "shut off",
		libvirt.DomainCrashed: "crashed", libvirt.DomainPmsuspended: "suspended",
	}
	name := names[st]
	if name == "" {
		name = fmt.Sprintf("state %d", st)
	}
	if st == libvirt.DomainShutoff {
		reasons := map[libvirt.DomainShutoffReason]string{
			libvirt.DomainShutoffShutdown: "the guest shut down", libvirt.DomainShutoffDestroyed: "destroyed",
			libvirt.DomainShutoffCrashed: "QEMU crashed or was killed", libvirt.DomainShutoffFailed: "QEMU failed to start",
		}
		if r := reasons[libvirt.DomainShutoffReason(reason)]; r != "" {
			name += ": " + r
		}
	}
	return name
}

// BootError is a node's failed boot, with how far it got.
type BootError struct {
	Node, Domain string
	Cause        error
	// Stage is the last stage reached, StageAt when (since the domain
	// started), After when the boot failed.
	Stage          Stage
	StageAt, After time.Duration
	CPU            time.Duration // vCPU time used
	LastLine       string        // the console's last line
	ConsoleLog     string
	Tail           string
}

func (e *BootError) Error() string {
	last := e.LastLine
	if last == "" {
		last = "(none)"
	}
	return fmt.Sprintf("node %s (domain %s): %v\n  got as far as %s (reached %.0fs after the domain started), failed after %.0fs with %.1fs of vCPU time used; last console line: %s\n  console %s ends with:\n%s",
		e.Node, e.Domain, e.Cause, e.Stage, e.StageAt.Seconds(), e.After.Seconds(), e.CPU.Seconds(), last, e.ConsoleLog, e.Tail)
}

func (e *BootError) Unwrap() error { return e.Cause }

// probeSSH connects to ip:22 and reads the server's version banner.
func probeSSH(ctx context.Context, d lab.Dialer, ip netip.Addr, by time.Time) error {
	ctx, cancel := context.WithDeadline(ctx, by)
	defer cancel()
	c, err := d.DialContext(ctx, "tcp", netip.AddrPortFrom(ip, 22).String())
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetReadDeadline(by)
	buf := make([]byte, 4)
	if _, err := io.ReadFull(c, buf); err != nil {
		return fmt.Errorf("no SSH banner: %w", err)
	}
	if string(buf) != "SSH-" {
		return fmt.Errorf("port 22 answers %q, not an SSH banner", buf)
	}
	return nil
}

// reporter prints progress lines with the seconds since the run started.
type reporter struct {
	mu     sync.Mutex
	w      io.Writer
	start  time.Time
	states map[string]string
	order  []string
}

func (p *reporter) printf(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.line(format, args...)
}

func (p *reporter) line(format string, args ...any) {
	if p.w != nil {
		fmt.Fprintf(p.w, "[%6.1fs] "+format+"\n", append([]any{time.Since(p.start).Seconds()}, args...)...)
	}
}

// state records and prints a node's state change.
func (p *reporter) state(n *Node, s string, detail string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.states == nil {
		p.states = map[string]string{}
	}
	if _, ok := p.states[n.Name]; !ok {
		p.order = append(p.order, n.Name)
	}
	p.states[n.Name] = s
	p.line("%-10s %-21s %s", n.Name, s, detail)
}

// heartbeat prints every node's state each period until stopped.
func (p *reporter) heartbeat(period time.Duration) (stop func()) {
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(period)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				p.mu.Lock()
				parts := make([]string, len(p.order))
				for i, name := range p.order {
					parts[i] = name + " " + p.states[name]
				}
				p.line("waiting: %s", strings.Join(parts, ", "))
				p.mu.Unlock()
			}
		}
	}()
	return func() { close(done); <-finished }
}
