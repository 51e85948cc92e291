package harness

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	libvirt "github.com/digitalocean/go-libvirt"

	"github.com/drivelab/drivelab/framework/config"
	"github.com/drivelab/drivelab/framework/lab"
	"github.com/drivelab/drivelab/framework/lockfile"
	"github.com/drivelab/drivelab/framework/platform"
	"github.com/drivelab/drivelab/framework/remote"
	"github.com/drivelab/drivelab/framework/topology"
	"github.com/drivelab/drivelab/framework/vm"
)

// A remote host holds, under hostRoot, what runs put there: the pool (each
// run's disks, drives and consoles, removed with the run) and the images
// (kept, once per recipe, for every later run).
const (
	hostRoot   = "/var/lib/drivelab"
	hostPool   = hostRoot + "/pool"
	hostImages = hostRoot + "/images"
)

// hostTools are what a remote host needs beside libvirtd and QEMU: the
// runs' networks (ip), the way to the guests (bash's /dev/tcp), uploads
// and consoles (coreutils).
var hostTools = []string{"ip", "bash", "sha256sum", "stat", "tail", "cat", "mv"}

// hostDial bounds reaching a host and notices one lost within about
// 15 s of silence, so that a run on it turns red within 30 s.
var hostDial = remote.DialInput{Timeout: 15 * time.Second, Keepalive: 5 * time.Second, KeepaliveMisses: 3}

// hostLink is the SSH connection to a remote host, dialled again when it
// dropped: the lab's commands, the libvirt connection and the way to the
// guests go through it (the uploads and each console have one of their own). A host that cannot be dialled
// at all is vm.ErrHostGone, so that nothing waits for it to come back.
type hostLink struct {
	host remote.Host
	mu   sync.Mutex
	c    *remote.Client
}

var _ lab.Shell = (*hostLink)(nil)

func (l *hostLink) client(ctx context.Context) (*remote.Client, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.c != nil {
		select {
		case <-l.c.Done():
			l.c.Close()
			l.c = nil
		default:
			return l.c, nil
		}
	}
	c, err := remote.Dial(ctx, l.host, hostDial)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", vm.ErrHostGone, err) // err names the host
	}
	l.c = c
	return c, nil
}

func (l *hostLink) Run(ctx context.Context, argv ...string) ([]byte, error) {
	c, err := l.client(ctx)
	if err != nil {
		return nil, err
	}
	return c.Run(ctx, argv...)
}

func (l *hostLink) DialIn(ctx context.Context, ns, network, address string) (net.Conn, error) {
	c, err := l.client(ctx)
	if err != nil {
		return nil, err
	}
	return c.DialIn(ctx, ns, network, address)
}

// Dial is the libvirt connection's dialer (go-libvirt's socket.Dialer),
// called again when libvirt reconnects.
func (l *hostLink) Dial() (net.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), hostDial.Timeout)
	defer cancel()
	c, err := l.client(ctx)
	if err != nil {
		return nil, err
	}
	return c.LibvirtDialer().Dial()
}

// follow copies the host's file at p into local as it grows (tail -F),
// until ctx ends or the connection drops.
func (l *hostLink) follow(ctx context.Context, p, local string) error {
	c, err := l.client(ctx)
	if err != nil {
		return err
	}
	stream, err := c.Stream(ctx, "tail", "-c", "+1", "-F", p)
	if err != nil {
		return err
	}
	defer stream.Close()
	go func() { <-ctx.Done(); stream.Close() }()
	f, err := os.OpenFile(local, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(f, stream)
	return err
}

func (l *hostLink) Close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.c != nil {
		l.c.Close()
		l.c = nil
	}
}

// remoteHost is a remote host reached: its link, libvirt connection,
// accelerator and what it has.
type remoteHost struct {
	link  *hostLink
	conn  *libvirt.Libvirt
	accel config.Accel
	info  *vm.Host
}

func (r *remoteHost) close() {
	r.conn.Disconnect()
	r.link.Close()
}

// dialHost reaches host h over SSH, checks it has the tools runs need,
// connects to its libvirtd and learns its accelerator, cores and memory.
func dialHost(ctx context.Context, s config.Settings, h remote.Host) (_ *remoteHost, err error) {
	link := &hostLink{host: h}
	defer func() {
		if err != nil {
			link.Close()
		}
	}()
	if _, err := link.client(ctx); err != nil {
		return nil, fmt.Errorf("host %s (%s) is unreachable: %w; check that `ssh -p %s %s@%s true` works from here with the key and known_hosts the URI names", h.Name, h.URI, err, h.Port, h.User, h.Hostname)
	}
	if _, err := link.Run(ctx, "sh", "-c", "for t in "+strings.Join(hostTools, " ")+"; do command -v $t >/dev/null || { echo missing $t; exit 1; }; done"); err != nil {
		return nil, fmt.Errorf("host %s lacks a tool runs need (%s): %w; install it there (Debian: iproute2, bash, coreutils)", h.Name, strings.Join(hostTools, ", "), err)
	}
	conn, err := vm.ConnectWith(ctx, link, h.Name+" ("+h.URI+")")
	if err != nil {
		return nil, err
	}
	r := &remoteHost{link: link, conn: conn, accel: s.Accel}
	defer func() {
		if err != nil {
			conn.Disconnect()
		}
	}()
	if r.accel == "" {
		if r.accel, err = remoteAccel(ctx, conn, link); err != nil {
			return nil, fmt.Errorf("host %s: %w", h.Name, err)
		}
	}
	if r.info, err = hostInfo(ctx, conn, link); err != nil {
		return nil, fmt.Errorf("host %s: %w", h.Name, err)
	}
	r.info.Name, r.info.ConsoleDir, r.info.Follow = h.Name, hostPool, func(ctx context.Context, p, local string) error {
		// Each console on a connection of its own: a copy holds its session
		// for the run's length, and sshd allows ten sessions per connection.
		l := &hostLink{host: h}
		defer l.Close()
		return l.follow(ctx, p, local)
	}
	return r, nil
}

// openRemote makes p the platform of remote host h: the image uploaded
// once per recipe (size and digest verified, resumed when cut) before its
// libvirtd is reached. Every run's network is made there over SSH, every
// console copied back, every guest reached through the host.
func openRemote(ctx context.Context, s config.Settings, h remote.Host, p *Libvirt, progress io.Writer) (err error) {
	say := func(format string, args ...any) {
		fmt.Fprintf(writerOr(progress), "host %s: "+format+"\n", append([]any{h.Name}, args...)...)
	}
	if p.Image.Disk != "" {
		if p.Image, err = uploadImage(ctx, h, p.Image, say); err != nil {
			return err
		}
	}
	r, err := dialHost(ctx, s, h)
	if err != nil {
		return err
	}
	p.Conn, p.Accel, p.Remote, p.Pool, p.remote = r.conn, r.accel, r.info, hostPool, r
	p.Lab.Mode, p.Lab.Shell = lab.ModeRemote, r.link
	// A memory snapshot is the image's on the machine that made it; on a
	// remote host every node boots from its kernel.
	p.Start = config.BootCold
	say("libvirt over SSH, %s, %d cores, %d MiB available; nodes boot cold", r.accel, r.info.Cores, r.info.MemAvailableMiB)
	return nil
}

// OpenHost connects to the one host the settings name (E2E_HOSTS), for
// what looks at or removes the runs on it (`e2e status`, `e2e down`).
func OpenHost(ctx context.Context, s config.Settings) (Host, error) {
	h, err := SettingsHost(s)
	if err != nil {
		return Host{}, err
	}
	shared := lab.Shared(s)
	if h.Local {
		conn, err := vm.Connect(ctx, s.LibvirtSocket)
		if err != nil {
			return Host{}, err
		}
		return Host{Conn: conn, Lab: shared, Paths: s.Paths, Registry: RegistryDir}, nil
	}
	r, err := dialHost(ctx, s, h)
	if err != nil {
		return Host{}, err
	}
	shared.Mode, shared.Shell = lab.ModeRemote, r.link
	return Host{Conn: r.conn, Lab: shared, Paths: s.Paths, Registry: HostRegistry(h.Name), close: r.close}, nil
}

// HostProbe is what a host offers, asked before anything boots (placement).
type HostProbe struct {
	Name  string
	Accel config.Accel
	// Cores are its CPUs, BootingVCPUs how many vCPUs its admission boots
	// at once; FreeMemoryMiB its memory budget less what the runs holding
	// it (its registry's claims) take.
	Cores, BootingVCPUs, FreeMemoryMiB int
}

// Footprint is what topo's nodes take on the host, after the caps.
func (p HostProbe) Footprint(topo *topology.Topology, caps config.Limits) (vcpus, memoryMiB int) {
	return vm.Footprint(topo, p.Accel, caps)
}

// ProbeHost asks host h for its accelerator, cores and free memory; an
// error names the host and why it cannot be used.
func ProbeHost(ctx context.Context, s config.Settings, h remote.Host) (HostProbe, error) {
	pr := HostProbe{Name: h.Name}
	var budget platform.Budget
	registry := HostRegistry(h.Name)
	if h.Local {
		conn, err := vm.Connect(ctx, s.LibvirtSocket)
		if err != nil {
			return pr, fmt.Errorf("host %s: %w", h.Name, err)
		}
		defer conn.Disconnect()
		if pr.Accel, err = vm.Accel(conn, s.Accel); err != nil {
			return pr, err
		}
		if budget, err = HostBudget(pr.Accel); err != nil {
			return pr, err
		}
		pr.Cores, registry = runtime.NumCPU(), RegistryDir
	} else {
		r, err := dialHost(ctx, s, h)
		if err != nil {
			return pr, err
		}
		defer r.close()
		pr.Accel, pr.Cores, budget = r.accel, r.info.Cores, remoteBudget(r.accel, r.info)
	}
	claims, err := Claims(registry)
	if err != nil {
		return pr, err
	}
	pr.FreeMemoryMiB, pr.BootingVCPUs = budget.MemoryMiB, budget.BootingVCPUs
	for _, c := range claims {
		if c.holds() {
			pr.FreeMemoryMiB -= c.MemoryMiB
		}
	}
	return pr, nil
}

// remoteAccel is KVM when the host's libvirt offers it and its CPU has
// hardware virtualization behind a /dev/kvm (as vm.Accel on this machine).
func remoteAccel(ctx context.Context, conn vm.Libvirt, sh lab.Shell) (config.Accel, error) {
	caps, err := conn.ConnectGetCapabilities()
	if err != nil {
		return "", fmt.Errorf("libvirt capabilities: %w", err)
	}
	_, kvmErr := sh.Run(ctx, "sh", "-c", "test -c /dev/kvm && grep -qwE 'vmx|svm' /proc/cpuinfo")
	return vm.AccelFrom(caps, kvmErr == nil), nil
}

// hostInfo is the host's cores (libvirt's node info) and memory and load
// (its /proc).
func hostInfo(ctx context.Context, conn *libvirt.Libvirt, sh lab.Shell) (*vm.Host, error) {
	_, _, cpus, _, _, _, _, _, err := conn.NodeGetInfo()
	if err != nil {
		return nil, fmt.Errorf("libvirt node info: %w", err)
	}
	out, err := sh.Run(ctx, "cat", "/proc/meminfo", "/proc/loadavg")
	if err != nil {
		return nil, err
	}
	return parseHostInfo(int(cpus), out)
}

// parseHostInfo reads a host's memory and load from its /proc/meminfo
// and /proc/loadavg, one after the other in out.
func parseHostInfo(cores int, out []byte) (*vm.Host, error) {
	h := &vm.Host{Cores: cores}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		switch {
		case len(f) >= 2 && f[0] == "MemAvailable:":
			kib, _ := strconv.Atoi(f[1])
			h.MemAvailableMiB = kib / 1024
		case len(f) >= 2 && f[0] == "MemTotal:":
			kib, _ := strconv.Atoi(f[1])
			h.MemTotalMiB = kib / 1024
		case len(f) == 5 && strings.Contains(f[3], "/"): // loadavg: 0.52 0.58 0.59 1/389 12345
			h.Load, _ = strconv.ParseFloat(f[0], 64)
		}
	}
	if h.Cores <= 0 || h.MemTotalMiB == 0 || h.MemAvailableMiB == 0 {
		return nil, fmt.Errorf("could not read its cores and memory (%d cores, /proc/meminfo and /proc/loadavg %q)", h.Cores, out)
	}
	return h, nil
}

// uploadAttempts bound how often a cut upload is resumed.
const uploadAttempts = 5

// uploadImage puts the image's files on the host once per recipe, under
// hostImages/<the image's folder>/, each verified by size and digest and
// resumed where a cut transfer stopped; it returns the image as the host
// sees it. Its own SSH connection carries the bytes, so a cut upload
// touches nothing else of the host's.
func uploadImage(ctx context.Context, h remote.Host, img vm.Image, say func(string, ...any)) (vm.Image, error) {
	format, size, err := vm.DiskInfo(img.Disk)
	if err != nil {
		return img, err
	}
	dir := path.Join(hostImages, filepath.Base(filepath.Dir(img.Disk)))
	// Two runs of this machine uploading to one host at once would write
	// the same .part.
	unlock, err := lockfile.Lock(ctx, filepath.Join(hostsDir, h.Name, "upload.lock"), func() { say("waiting for another run's upload") })
	if err != nil {
		return img, err
	}
	defer unlock()
	link := &hostLink{host: h}
	defer link.Close()
	connect := func(ctx context.Context) (remote.Files, error) { return link.client(ctx) }
	out := img
	out.Format, out.Size = format, size
	for _, f := range []*string{&out.Disk, &out.Kernel, &out.Initrd} {
		if *f == "" {
			continue
		}
		local := *f
		*f = path.Join(dir, filepath.Base(local))
		started := time.Now()
		res, err := remote.Upload(ctx, remote.UploadInput{
			Local: local, Remote: *f, Host: h.Name, Connect: connect,
			Attempts: uploadAttempts, Backoff: time.Second, Progress: say,
		})
		if err != nil {
			return img, err
		}
		if !res.Skipped {
			say("uploaded %s (%d MiB, sha256 %s) in %.1fs, %d attempt(s)", *f, res.Bytes>>20, res.Digest[:12], time.Since(started).Seconds(), res.Attempts)
		}
	}
	return out, nil
}

// hostsDir holds, on this machine, what it keeps per remote host: each
// host's run registry (its claims: the runs' owners are processes here)
// and its upload lock.
const hostsDir = "/run/drivelab/hosts"

// HostRegistry is a remote host's run registry on this machine.
func HostRegistry(name string) string { return filepath.Join(hostsDir, name, "runs") }

// remoteBudget is what runs may take of a remote host together.
func remoteBudget(accel config.Accel, h *vm.Host) platform.Budget {
	return DefaultBudget(accel, h.Cores, h.MemTotalMiB)
}

func writerOr(w io.Writer) io.Writer {
	if w == nil {
		return io.Discard
	}
	return w
}
