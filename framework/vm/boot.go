package vm

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	libvirt "github.com/digitalocean/go-libvirt"

	"github.com/drivelab/drivelab/framework/atomicfile"
	"github.com/drivelab/drivelab/framework/config"
	"github.com/drivelab/drivelab/framework/lab"
	"github.com/drivelab/drivelab/framework/topology"
)

// DefaultHeartbeat is how often BootAll prints where every node is while
// nothing changes, so a slow boot never looks hung.
const DefaultHeartbeat = 30 * time.Second

// Image is what every node boots from.
type Image struct {
	// Disk is the base image (qcow2 or raw); each node gets a qcow2 overlay
	// over it and it is never written.
	Disk string
	// Kernel, Initrd and Cmdline boot the kernel directly; with no Kernel the
	// disk's own bootloader boots.
	Kernel, Initrd, Cmdline string
}

// BootInput is everything BootAll needs.
type BootInput struct {
	Conn     *libvirt.Libvirt
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
	// Dialer reaches the guests' SSH port (the lab's dialer).
	Dialer lab.Dialer
	// Progress receives a line per node state change and a heartbeat; nil discards.
	Progress io.Writer
	// Heartbeat is the period of the summary line; 0 means DefaultHeartbeat.
	Heartbeat time.Duration
}

// State is where a node is in its boot.
type State string

const (
	StateDefined   State = "defined"
	StateBooting   State = "booting"    // domain started, waiting for cloud-init
	StateCloudInit State = "cloud-init" // cloud-init showed up on the console
	StateSSH       State = "ssh"        // cloud-init finished, waiting for port 22
	StateReady     State = "ready"
)

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
}

// Run is a booted topology. Teardown removes it.
type Run struct {
	ID         string
	DomainType string
	Started    time.Time
	// AllReady is the time from Started until the last node was ready.
	AllReady time.Duration
	// Nodes are in topology order.
	Nodes []*Node

	conn      *libvirt.Libvirt
	pool      libvirt.StoragePool
	intervals config.Intervals
	out       *reporter
}

// Node returns the node with the given name, or nil.
func (r *Run) Node(name string) *Node {
	i := slices.IndexFunc(r.Nodes, func(n *Node) bool { return n.Name == name })
	if i < 0 {
		return nil
	}
	return r.Nodes[i]
}

// SlowestCloudInit is the node whose cloud-init took longest by the guest's
// own clock (its "Up N seconds").
func (r *Run) SlowestCloudInit() *Node {
	return slices.MaxFunc(r.Nodes, func(a, b *Node) int { return int(a.Finished.Uptime - b.Finished.Uptime) })
}

// BootAll defines every node of the topology as a domain, starts them all
// at once and waits, in parallel, until each is ready: cloud-init's
// finished line is on its serial console and its SSH port answers through
// the lab's dialer. Bad input is reported, all of it, before anything is
// created. On any failure, timeout or cancellation everything created is
// removed again and the error names the node and quotes its console.
func BootAll(ctx context.Context, in BootInput) (*Run, error) {
	started := time.Now()
	limits, err := LimitsFromEnv()
	if err != nil {
		return nil, err
	}
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
	accel, err := Accel(in.Conn)
	if err != nil {
		return nil, err
	}
	out := &reporter{w: in.Progress, start: started}
	if accel == config.AccelTCG {
		out.printf("vm: warning: no usable KVM (it needs libvirt's kvm domain type, /dev/kvm and the vmx or svm CPU flag): guests run under TCG emulation, many times slower")
	}
	pool, err := EnsurePool(in.Conn, PoolDir())
	if err != nil {
		return nil, err
	}
	run := &Run{ID: in.RunID, DomainType: string(accel), Started: started, conn: in.Conn, pool: pool, intervals: in.Intervals, out: out}
	out.printf("vm: run %s: %d nodes, domain type %s, consoles in %s", run.ID, len(in.Topology.Nodes), accel, artifacts)

	// From here on, whatever fails takes the whole run down again.
	fail := func(err error) (*Run, error) {
		if terr := run.Teardown(ctx); terr != nil {
			err = errors.Join(err, terr)
		}
		return nil, err
	}
	doms := make([]libvirt.Domain, len(in.Topology.Nodes))
	for i, n := range in.Topology.Nodes {
		if err := context.Cause(ctx); err != nil {
			return fail(fmt.Errorf("boot of run %s interrupted while defining domains: %w", run.ID, err))
		}
		node, dom, err := run.define(in, n, limits, artifacts)
		if node != nil {
			run.Nodes = append(run.Nodes, node)
		}
		if err != nil {
			return fail(fmt.Errorf("node %s: %w", n.Name, err))
		}
		doms[i] = dom
		out.state(node, StateDefined, node.Domain)
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
	stopBeat := out.heartbeat(orDefault(in.Heartbeat, DefaultHeartbeat))
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

// define creates a node's overlay and drive volumes and defines its domain.
// The node is returned as soon as something of it may exist, for teardown.
func (r *Run) define(in BootInput, n topology.Node, limits Limits, artifacts string) (*Node, libvirt.Domain, error) {
	var dom libvirt.Domain
	name := DomainName(r.ID, n.Name)
	vcpus, mem := limits.size(n)
	node := &Node{
		Name: n.Name, Domain: name, IP: n.IP.String(), VCPUs: vcpus, MemoryMiB: mem,
		ConsoleLog: filepath.Join(artifacts, name+".console.log"),
		DomainXML:  filepath.Join(artifacts, name+".domain.xml"),
	}
	disk, err := createOverlay(r.conn, r.pool, diskVolume(r.ID, n.Name), in.Image.Disk)
	if err != nil {
		return node, dom, err
	}
	drive, err := uploadFile(r.conn, r.pool, driveVolume(r.ID, n.Name), in.Drives[n.Name])
	if err != nil {
		return node, dom, err
	}
	opts := []Option{
		WithName(name),
		WithDomainType(r.DomainType),
		WithVCPUs(vcpus),
		WithMemoryMiB(mem),
		WithDisk(disk),
		WithConfigDrive(drive),
		WithNIC(n.MAC, in.Topology.Network.Bridge),
		WithSerialLog(node.ConsoleLog),
		WithMetadata(r.ID, n.Name),
	}
	if in.Image.Kernel != "" {
		opts = append(opts, WithKernel(in.Image.Kernel, in.Image.Initrd, in.Image.Cmdline))
	}
	x, err := New(opts...).Marshal()
	if err != nil {
		return node, dom, err
	}
	if err := atomicfile.Write(node.DomainXML, []byte(x), 0o644); err != nil {
		return node, dom, err
	}
	dom, err = r.conn.DomainDefineXML(x)
	if err != nil {
		return node, dom, fmt.Errorf("defining domain %s: %w (its XML is in %s)", name, err, node.DomainXML)
	}
	return node, dom, nil
}

// bootNode starts a node's domain and follows it until it is ready.
func (r *Run) bootNode(ctx context.Context, in BootInput, node *Node, dom libvirt.Domain) error {
	if err := r.conn.DomainCreate(dom); err != nil {
		return fmt.Errorf("node %s: starting domain %s: %w", node.Name, node.Domain, err)
	}
	iv := in.Intervals
	t0 := time.Now()
	bootBy, cloudInitBy := t0.Add(iv.Boot), t0.Add(iv.CloudInit)
	var sshBy time.Time
	con := &console{path: node.ConsoleLog}
	state := StateBooting
	r.out.state(node, state, "")
	failf := func(format string, args ...any) error {
		return fmt.Errorf("node %s (domain %s): %s; console %s ends with:\n%s",
			node.Name, node.Domain, fmt.Sprintf(format, args...), node.ConsoleLog, con.Tail())
	}

	tick := time.NewTicker(iv.Poll)
	defer tick.Stop()
	for {
		if err := con.read(); err != nil {
			return failf("reading the console: %v", err)
		}
		now := time.Now()
		if st, _, err := r.conn.DomainGetState(dom, 0); err != nil {
			return failf("domain state: %v", err)
		} else if libvirt.DomainState(st) != libvirt.DomainRunning {
			return failf("the domain left the running state (%s) before the node was ready", libvirt.DomainState(st))
		}
		if state == StateBooting && con.cloudInit {
			state = StateCloudInit
			r.out.state(node, state, "")
		}
		if f := con.finished; f != nil && (state == StateBooting || state == StateCloudInit) {
			node.Finished, node.CloudInit = *f, time.Since(r.Started)
			if strings.Contains(f.Datasource, "DataSourceNone") {
				return failf("cloud-init finished without a datasource (%s): the config drive was not found; check that it is an ISO labelled config-2", f.Datasource)
			}
			state, sshBy = StateSSH, now.Add(iv.SSH)
			r.out.state(node, state, fmt.Sprintf("cloud-init %s finished, guest up %.1fs (%s)", f.Version, f.Uptime.Seconds(), f.Datasource))
		}
		switch {
		case state == StateSSH:
			if err := probeSSH(ctx, in.Dialer, node.IP, sshBy); err == nil {
				node.Ready = time.Since(r.Started)
				r.out.state(node, StateReady, "")
				return nil
			} else if time.Now().After(sshBy) {
				return failf("cloud-init finished but %s:22 did not answer within %s (SSH): %v", node.IP, iv.SSH, err)
			}
		case !con.output && now.After(bootBy):
			return failf("the guest wrote nothing to its console within %s (Boot)", iv.Boot)
		case now.After(cloudInitBy):
			return failf("cloud-init did not finish within %s (CloudInit)", iv.CloudInit)
		}
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-tick.C:
		}
	}
}

// probeSSH connects to ip:22 and reads the server's version banner.
func probeSSH(ctx context.Context, d lab.Dialer, ip string, by time.Time) error {
	ctx, cancel := context.WithDeadline(ctx, by)
	defer cancel()
	c, err := d.DialContext(ctx, "tcp", ip+":22")
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

func orDefault[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// reporter prints progress lines with the seconds since the run started.
type reporter struct {
	mu     sync.Mutex
	w      io.Writer
	start  time.Time
	states map[string]State
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
func (p *reporter) state(n *Node, s State, detail string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.states == nil {
		p.states = map[string]State{}
	}
	if _, ok := p.states[n.Name]; !ok {
		p.order = append(p.order, n.Name)
	}
	p.states[n.Name] = s
	p.line("%-10s %-10s %s", n.Name, s, detail)
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
					parts[i] = name + " " + string(p.states[name])
				}
				p.line("waiting: %s", strings.Join(parts, ", "))
				p.mu.Unlock()
			}
		}
	}()
	return func() { close(done); <-finished }
}
