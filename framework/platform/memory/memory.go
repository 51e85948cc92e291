// Package memory is a platform.Platform in memory, for unit tests of the
// whole lifecycle without a hypervisor (as CoreOS kola's unprivileged
// platforms): a machine is an SSH server on an in-process pipe that reads
// its host key and root's authorized keys from its own config drive, as
// cloud-init would, and answers every command through the test's Handler.
// Faults are data: a failing network, boot or destroy, a wrong host key.
package memory

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"time"

	"go.yaml.in/yaml/v3"
	"golang.org/x/crypto/ssh"

	"github.com/drivelab/drivelab/framework/configdrive"
	"github.com/drivelab/drivelab/framework/platform"
	"github.com/drivelab/drivelab/framework/runid"
	"github.com/drivelab/drivelab/framework/topology"
)

// Handler answers cmd run as root on node: its output and exit status.
type Handler func(node, cmd string) (stdout string, status int)

// Platform is the in-memory platform. Set its fields before the first call.
type Platform struct {
	// Handler answers commands; nil: every command succeeds, silently.
	Handler Handler
	// Budgeted is what runs may take together; zero: room for anything.
	Budgeted platform.Budget
	// NetworkFault fails every network's Create.
	NetworkFault error
	// BootFault fails the boot of the named nodes, with the error given.
	BootFault map[string]error
	// DestroyFault fails every Destroy.
	DestroyFault error
	// WrongHostKey makes the named nodes offer a host key of their own
	// instead of their drive's, as a guest that ignored its drive would.
	WrongHostKey map[string]bool

	mu       sync.Mutex
	networks map[runid.ID]bool
	machines map[runid.ID]map[string]*Machine
	events   []string
}

var _ platform.Platform = (*Platform)(nil)

// Events are what the platform did, in order ("network create RUN",
// "boot RUN NODE", "destroy RUN NODE", "network remove RUN", "reap").
func (p *Platform) Events() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.events)
}

// Leftovers are the runs' machines and networks that exist now.
func (p *Platform) Leftovers() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var left []string
	for run := range p.networks {
		left = append(left, "network "+run.String())
	}
	for run, ms := range p.machines {
		for name := range ms {
			left = append(left, "machine "+run.Domain(name))
		}
	}
	slices.Sort(left)
	return left
}

func (p *Platform) event(format string, args ...any) {
	p.events = append(p.events, fmt.Sprintf(format, args...))
}

func (p *Platform) Footprint(topo *topology.Topology) (vcpus, memoryMiB int, err error) {
	for _, n := range topo.Nodes {
		vcpus, memoryMiB = vcpus+n.VCPUs, memoryMiB+n.MemoryMiB
	}
	return vcpus, memoryMiB, nil
}

func (p *Platform) Budget() (platform.Budget, error) {
	if p.Budgeted == (platform.Budget{}) {
		return platform.Budget{BootingVCPUs: 1 << 20, MemoryMiB: 1 << 30}, nil
	}
	return p.Budgeted, nil
}

func (p *Platform) Reap(context.Context, func(string, ...any)) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.event("reap")
	return nil
}

func (p *Platform) Network(run runid.ID) platform.Network { return &network{p: p, run: run} }

func (p *Platform) States(_ context.Context, run runid.ID) (map[string]string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	states := map[string]string{}
	for name := range p.machines[run] {
		states[name] = "running"
	}
	return states, nil
}

// network is a run's network: the machines of the run answer on it.
type network struct {
	p   *Platform
	run runid.ID
}

func (n *network) Create(context.Context) error {
	n.p.mu.Lock()
	defer n.p.mu.Unlock()
	if n.p.NetworkFault != nil {
		return n.p.NetworkFault
	}
	if n.p.networks == nil {
		n.p.networks = map[runid.ID]bool{}
	}
	n.p.networks[n.run] = true
	n.p.event("network create %s", n.run)
	return nil
}

func (n *network) Remove(context.Context) error {
	n.p.mu.Lock()
	defer n.p.mu.Unlock()
	if n.p.networks[n.run] {
		delete(n.p.networks, n.run)
		n.p.event("network remove %s", n.run)
	}
	return nil
}

func (n *network) Shared() string { return "" }
func (n *network) String() string { return "memory network of run " + n.run.String() }

// DialContext connects to the machine of the run that has address's IP on
// a network with a gateway: the run's own namespace is on those only, as
// on libvirt (lab.Segment).
func (n *network) DialContext(ctx context.Context, _, address string) (net.Conn, error) {
	return n.dial(address, func(to *Machine, a netip.Addr) bool {
		for _, c := range to.node.NICs {
			if nw, ok := to.topo.NetworkNamed(c.Network); ok && (c.IP == a && nw.Gateway.IsValid() || c.IP6 == a && nw.Gateway6.IsValid()) {
				return true
			}
		}
		return false
	})
}

// dial connects to the run's machine that has address's IP, if reaches
// says it can be reached there.
func (n *network) dial(address string, reaches func(to *Machine, a netip.Addr) bool) (net.Conn, error) {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return nil, err
	}
	n.p.mu.Lock()
	var target *Machine
	if n.p.networks[n.run] {
		for _, m := range n.p.machines[n.run] {
			if slices.Contains(m.addrs, ap.Addr()) && ap.Port() == 22 && reaches(m, ap.Addr()) {
				target = m
			}
		}
	}
	n.p.mu.Unlock()
	if target == nil {
		return nil, fmt.Errorf("dial %s on the memory network of run %s: no route to host", address, n.run)
	}
	return target.accept()
}

func (p *Platform) Boot(ctx context.Context, in platform.BootInput) (platform.Cluster, error) {
	nw, ok := in.Network.(*network)
	if !ok || !p.networkUp(nw.run) {
		return nil, fmt.Errorf("memory platform: run %s: boot on a network that was not created", in.Run)
	}
	c := &cluster{p: p, report: platform.BootReport{Accel: "memory", Started: time.Now(), Scale: platform.Scale{Factor: 1, Text: "memory: no deadlines to scale"}}}
	if in.Replace {
		for _, n := range in.Topology.Nodes {
			if err := p.destroy(in.Run, n.Name); err != nil {
				return nil, err
			}
			console := in.Run.ConsoleLog(in.ArtifactsDir, n.Name)
			if err := os.Rename(console, console+".old"); err != nil && !os.IsNotExist(err) {
				return nil, err
			}
		}
	}
	for _, n := range in.Topology.Nodes {
		m, err := p.boot(ctx, in, n)
		if err != nil {
			return nil, errors.Join(fmt.Errorf("node %s: %w", n.Name, err), c.Destroy(context.WithoutCancel(ctx)))
		}
		c.machines = append(c.machines, m)
		c.report.Nodes = append(c.report.Nodes, platform.NodeReport{
			Name: n.Name, VCPUs: n.VCPUs, MemoryMiB: n.MemoryMiB, Path: "cold", GatePath: "cold", Console: m.console,
			Stages: []platform.Stage{{Name: "boot", Seen: c.report.Started}},
		})
	}
	c.report.AllReady = time.Since(c.report.Started)
	return c, nil
}

func (p *Platform) networkUp(run runid.ID) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.networks[run]
}

// boot starts node n from its drive: it reads the host key and root's
// authorized keys from the harness's vendor_data, as cloud-init would.
func (p *Platform) boot(ctx context.Context, in platform.BootInput, n topology.Node) (*Machine, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m := &Machine{p: p, run: in.Run, name: n.Name, node: n, topo: in.Topology, console: in.Run.ConsoleLog(in.ArtifactsDir, n.Name)}
	for _, c := range n.NICs {
		for _, a := range []netip.Addr{c.IP, c.IP6} {
			if a.IsValid() {
				m.addrs = append(m.addrs, a)
			}
		}
	}
	if err := os.MkdirAll(in.ArtifactsDir, 0o755); err != nil {
		return nil, err
	}
	console := fmt.Sprintf("memory: %s booting from %s\n", n.Name, in.Drives[n.Name])
	defer func() { os.WriteFile(m.console, []byte(console), 0o644) }()
	if err := p.BootFault[n.Name]; err != nil {
		console += "memory: boot failed: " + err.Error() + "\n"
		return nil, err
	}
	cfg, err := readAccess(in.Drives[n.Name])
	if err != nil {
		return nil, err
	}
	if p.WrongHostKey[n.Name] {
		_, priv, _ := ed25519.GenerateKey(rand.Reader)
		if cfg.hostKey, err = ssh.NewSignerFromKey(priv); err != nil {
			return nil, err
		}
	}
	m.server = &ssh.ServerConfig{PublicKeyCallback: func(_ ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
		if slices.ContainsFunc(cfg.authorized, func(k ssh.PublicKey) bool { return string(k.Marshal()) == string(key.Marshal()) }) {
			return nil, nil
		}
		return nil, errors.New("key not authorized")
	}}
	m.server.AddHostKey(cfg.hostKey)
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.machines == nil {
		p.machines = map[runid.ID]map[string]*Machine{}
	}
	if p.machines[in.Run] == nil {
		p.machines[in.Run] = map[string]*Machine{}
	}
	if p.machines[in.Run][n.Name] != nil {
		// As libvirt refuses a second domain of one name.
		return nil, fmt.Errorf("machine %s exists already (BootInput.Replace boots it again)", in.Run.Domain(n.Name))
	}
	p.machines[in.Run][n.Name] = m
	p.event("boot %s %s", in.Run, n.Name)
	console += "Cloud-init v. memory finished\n"
	return m, nil
}

// access is what a drive gives the harness: the host key it pins and the
// keys root accepts.
type access struct {
	hostKey    ssh.Signer
	authorized []ssh.PublicKey
}

func readAccess(iso string) (access, error) {
	im, err := configdrive.Read(iso)
	if err != nil {
		return access{}, err
	}
	defer im.Close()
	f, ok := im.Files["openstack/latest/vendor_data.json"]
	if !ok {
		return access{}, fmt.Errorf("%s: no openstack/latest/vendor_data.json", iso)
	}
	b, err := f.Bytes()
	if err != nil {
		return access{}, err
	}
	var vendor struct {
		CloudInit string `json:"cloud-init"`
	}
	if err := json.Unmarshal(b, &vendor); err != nil {
		return access{}, fmt.Errorf("%s: vendor_data.json: %w", iso, err)
	}
	var cc struct {
		Authorized []string          `yaml:"ssh_authorized_keys"`
		Keys       map[string]string `yaml:"ssh_keys"`
	}
	if err := yaml.Unmarshal([]byte(vendor.CloudInit), &cc); err != nil {
		return access{}, fmt.Errorf("%s: vendor_data's cloud-config: %w", iso, err)
	}
	var a access
	if a.hostKey, err = ssh.ParsePrivateKey([]byte(cc.Keys["ed25519_private"])); err != nil {
		return access{}, fmt.Errorf("%s: ssh_keys.ed25519_private: %w", iso, err)
	}
	for _, k := range cc.Authorized {
		pk, _, _, _, err := ssh.ParseAuthorizedKey([]byte(k))
		if err != nil {
			return access{}, fmt.Errorf("%s: ssh_authorized_keys: %w", iso, err)
		}
		a.authorized = append(a.authorized, pk)
	}
	return a, nil
}

func (p *Platform) destroy(run runid.ID, node string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.DestroyFault != nil {
		return p.DestroyFault
	}
	m := p.machines[run][node]
	if m == nil {
		return nil
	}
	delete(p.machines[run], node)
	if len(p.machines[run]) == 0 {
		delete(p.machines, run)
	}
	m.closeConns()
	p.event("destroy %s %s", run, node)
	return nil
}

// cluster is a booted set of memory machines.
type cluster struct {
	p        *Platform
	machines []platform.Machine
	report   platform.BootReport
}

func (c *cluster) Machines() []platform.Machine { return c.machines }
func (c *cluster) Report() platform.BootReport  { return c.report }
func (c *cluster) Destroy(ctx context.Context) error {
	var errs []error
	for _, m := range c.machines {
		errs = append(errs, m.Destroy(ctx))
	}
	return errors.Join(errs...)
}

// Machine is a memory machine: an SSH server answering through Handler.
type Machine struct {
	p       *Platform
	run     runid.ID
	name    string
	addrs   []netip.Addr
	node    topology.Node
	topo    *topology.Topology
	console string
	server  *ssh.ServerConfig

	mu    sync.Mutex
	conns []net.Conn
}

func (m *Machine) Name() string            { return m.name }
func (m *Machine) Addresses() []netip.Addr { return m.addrs }
func (m *Machine) Console() string         { return m.console }
func (m *Machine) Identity() platform.Identity {
	return platform.Identity{Domain: m.run.Domain(m.name), Path: "cold", GatePath: "cold"}
}
func (m *Machine) Destroy(context.Context) error { return m.p.destroy(m.run, m.name) }

// accept opens a connection to the machine's SSH server: a socket pair,
// buffered as a TCP connection is (both SSH ends write their version line
// first, which a synchronous net.Pipe would deadlock).
func (m *Machine) accept() (net.Conn, error) {
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	var conns [2]net.Conn
	for i, fd := range fds {
		f := os.NewFile(uintptr(fd), "memory-ssh")
		conns[i], err = net.FileConn(f)
		f.Close()
		if err != nil {
			if i == 1 {
				conns[0].Close()
			}
			return nil, err
		}
	}
	m.mu.Lock()
	m.conns = append(m.conns, conns[1])
	m.mu.Unlock()
	go m.serve(conns[1])
	return conns[0], nil
}

func (m *Machine) closeConns() {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, c := range m.conns {
		c.Close()
	}
	m.conns = nil
}

func (m *Machine) serve(c net.Conn) {
	conn, chans, reqs, err := ssh.NewServerConn(c, m.server)
	if err != nil {
		c.Close()
		return
	}
	defer conn.Close()
	go ssh.DiscardRequests(reqs)
	for nc := range chans {
		switch nc.ChannelType() {
		case "session":
			go m.session(nc)
		case "direct-tcpip":
			go m.forward(nc)
		default:
			nc.Reject(ssh.UnknownChannelType, "not here")
		}
	}
}

// session runs one exec request through the Handler.
func (m *Machine) session(nc ssh.NewChannel) {
	ch, reqs, err := nc.Accept()
	if err != nil {
		return
	}
	defer ch.Close()
	for req := range reqs {
		if req.Type != "exec" {
			req.Reply(false, nil)
			continue
		}
		var payload struct{ Command string }
		if err := ssh.Unmarshal(req.Payload, &payload); err != nil {
			req.Reply(false, nil)
			return
		}
		req.Reply(true, nil)
		out, status := "", 0
		if m.p.Handler != nil {
			out, status = m.p.Handler(m.name, payload.Command)
		}
		io.WriteString(ch, out)
		ch.CloseWrite()
		ch.SendRequest("exit-status", false, binary.BigEndian.AppendUint32(nil, uint32(status)))
		return
	}
}

// forward is a jump through this machine to another of its run.
func (m *Machine) forward(nc ssh.NewChannel) {
	var target struct {
		Host       string
		Port       uint32
		OriginHost string
		OriginPort uint32
	}
	if err := ssh.Unmarshal(nc.ExtraData(), &target); err != nil {
		nc.Reject(ssh.ConnectionFailed, err.Error())
		return
	}
	// A machine reaches the others on the networks it shares with them.
	dst, err := (&network{p: m.p, run: m.run}).dial(net.JoinHostPort(target.Host, strconv.Itoa(int(target.Port))), func(to *Machine, a netip.Addr) bool {
		return m.topo.Reaches(m.node, to.node, a)
	})
	if err != nil {
		nc.Reject(ssh.ConnectionFailed, err.Error())
		return
	}
	ch, reqs, err := nc.Accept()
	if err != nil {
		dst.Close()
		return
	}
	go ssh.DiscardRequests(reqs)
	go func() { io.Copy(dst, ch); dst.Close() }()
	io.Copy(ch, dst)
	ch.Close()
}
