// Package lab brings up the place guests run in. On a machine without a
// hypervisor setup of its own (this one, CI) that is a network namespace
// holding the topology's bridge, with virtlogd and libvirtd started inside it,
// so every guest's tap device and all guest traffic stay in the namespace. On a
// runner that already has a system libvirtd and the bridge (a KVM runner), the
// "host" mode uses them as they are and creates nothing.
//
// The harness reaches guests only through the lab's Dialer.
package lab

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/drivelab/drivelab/framework/config"
	"github.com/drivelab/drivelab/framework/lockfile"
	"github.com/drivelab/drivelab/framework/topology"
)

// Mode says whether the lab creates its own namespace or uses the host's.
type Mode string

const (
	// ModeNetns creates namespace, bridge and daemons (the default).
	ModeNetns Mode = "netns"
	// ModeHost uses the host's libvirtd and bridge and creates nothing.
	ModeHost Mode = "host"
	// ModeRemote makes each run's networks on a remote host, through its
	// Shell (SSH): the bridges in the host's own namespace, where its
	// libvirtd puts the guests' tap devices, and the run's namespace there.
	ModeRemote Mode = "remote"
)

// RunDir holds the pid files of the daemons a lab started; `lab down` stops
// a daemon only if its pid file is here.
const RunDir = "/run/drivelab"

// DefaultPackages are the Debian packages the netns lab needs.
var DefaultPackages = []string{
	"qemu-system-x86", "qemu-utils", "libvirt-daemon", "libvirt-daemon-driver-qemu",
	"libvirt-clients", "iproute2",
}

// Config describes a lab.
type Config struct {
	Mode Mode
	// Namespace is the network namespace of a netns lab; the runs'
	// namespaces are named after it in every mode.
	Namespace string
	// Shell runs the lab's commands: nil is this machine, a remote host's
	// is its SSH connection (ModeRemote).
	Shell Shell
	// Networks are the topology's networks as each run makes them.
	Networks []Net
	// LibvirtSocket is libvirtd's unix socket.
	LibvirtSocket string
	// Packages are installed from Debian when missing (netns mode only).
	Packages []string
	// Intervals: Command bounds a daemon's start, Teardown its stop, Poll paces both.
	Intervals config.Intervals
	// Progress receives one line per step; nil discards them.
	Progress io.Writer
}

// Net is one network of the lab as a run makes it (Segment).
type Net struct {
	Name string
	// Bridge is the runner's bridge for it in host mode.
	Bridge string
	// Gateways are the run's own addresses on it, with the network's
	// prefix: its IPv4 and IPv6 routers; none keeps the run's namespace
	// off the network.
	Gateways []netip.Prefix
	// VLAN tags the network's frames (0: untagged).
	VLAN int
}

// DefaultConfig is the lab for a topology: its networks' bridges (host
// mode) and gateways (each run's networks), the namespace "drivelab",
// libvirtd's system socket; the settings (E2E_LAB_MODE,
// E2E_LIBVIRT_SOCKET) choose the mode and the socket.
func DefaultConfig(s config.Settings, t *topology.Topology) (Config, error) {
	c := Shared(s)
	for _, nw := range t.Networks {
		n := Net{Name: nw.Name, Bridge: nw.Bridge, VLAN: nw.VLAN}
		if nw.Gateway.IsValid() {
			n.Gateways = append(n.Gateways, netip.PrefixFrom(nw.Gateway, nw.CIDR.Bits()))
		}
		if nw.Gateway6.IsValid() {
			n.Gateways = append(n.Gateways, netip.PrefixFrom(nw.Gateway6, nw.CIDR6.Bits()))
		}
		c.Networks = append(c.Networks, n)
	}
	return c, c.validate()
}

// Shared is the lab as every run shares it, without a topology: enough to
// reach libvirtd and to find and remove runs' networks (`e2e status`, `e2e down`).
func Shared(s config.Settings) Config {
	return Config{
		Mode:          Mode(s.LabMode),
		Namespace:     "drivelab",
		LibvirtSocket: s.LibvirtSocket,
		Packages:      DefaultPackages,
		Intervals:     s.Intervals(config.AccelTCG),
	}
}

func (c Config) validate() error {
	switch {
	case c.Mode != ModeNetns && c.Mode != ModeHost && c.Mode != ModeRemote:
		return fmt.Errorf("lab mode %q is unknown; use %q or %q (E2E_LAB_MODE)", c.Mode, ModeNetns, ModeHost)
	case len(c.Networks) == 0:
		return errors.New("lab: no network; the topology names its networks")
	case c.Mode == ModeHost && slices.ContainsFunc(c.Networks, func(n Net) bool { return n.Bridge == "" }):
		return errors.New("lab (host mode): a network has no bridge named; set its bridge in the topology")
	case c.Mode == ModeRemote && c.Shell == nil:
		return errors.New("lab (remote mode): no shell to the host; connect with framework/remote.Dial")
	case c.LibvirtSocket == "" && c.Mode != ModeRemote:
		return errors.New("lab: no libvirt socket; set E2E_LIBVIRT_SOCKET")
	case c.Mode == ModeNetns && c.Namespace == "":
		return errors.New("lab: no namespace named")
	case c.Mode != ModeHost && !slices.ContainsFunc(c.Networks, func(n Net) bool { return len(n.Gateways) > 0 }):
		return errors.New("lab: no network has a gateway; the harness reaches a run through its client's network's gateway: set network.gateway and network.cidr in the topology")
	case c.Intervals.Poll <= 0 || c.Intervals.Command <= 0 || c.Intervals.Teardown <= 0:
		return errors.New("lab: Intervals.Poll, Command and Teardown must be set (config.DefaultIntervals)")
	}
	return nil
}

// Up makes the lab ready and is idempotent: what exists is checked and kept.
func Up(ctx context.Context, c Config) error {
	if err := c.validate(); err != nil {
		return err
	}
	switch c.Mode {
	case ModeHost:
		return upHost(ctx, c)
	case ModeRemote:
		// The host's libvirtd is the host's; each run makes its networks.
		return nil
	}
	if os.Geteuid() != 0 {
		return errors.New("lab: needs root (it creates a network namespace and starts libvirtd); run it as root")
	}
	if err := checkLibvirtd(c); err != nil {
		return err
	}
	if err := ensurePackages(ctx, c.progress(), c.Packages); err != nil {
		return err
	}
	if err := ensureQemuUser(ctx, c.progress()); err != nil {
		return err
	}
	if err := ensureKVMDevice(ctx, c.progress()); err != nil {
		return err
	}
	for _, dir := range []string{"/var/log/libvirt", "/var/run/libvirt", RunDir} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("lab: %w", err)
		}
	}
	// Runs started at once must not both start the daemons.
	unlock, err := lockfile.Lock(ctx, filepath.Join(RunDir, "lab.lock"), func() {
		fmt.Fprintln(c.progress(), "lab: waiting for another `e2e lab up` to finish")
	})
	if err != nil {
		return fmt.Errorf("lab: %w", err)
	}
	defer unlock()
	if _, err := os.Stat("/dev/net/tun"); err != nil {
		return fmt.Errorf("lab: /dev/net/tun is missing (%w); guests need tap devices: load the tun module (modprobe tun)", err)
	}
	if err := ensureNamespace(ctx, c); err != nil {
		return err
	}
	if err := ensureDaemons(ctx, c); err != nil {
		return err
	}
	return waitLibvirt(ctx, c)
}

func upHost(ctx context.Context, c Config) error {
	var bridges []string
	for _, nw := range c.Networks {
		if err := HostDialer(nw.Bridge).CheckBridge(ctx, nw.Bridge); err != nil {
			return fmt.Errorf("lab (host mode): %w", err)
		}
		bridges = append(bridges, nw.Bridge)
	}
	if err := pingLibvirt(c.LibvirtSocket); err != nil {
		return fmt.Errorf("lab (host mode): %w; start the host's libvirtd or set E2E_LIBVIRT_SOCKET", err)
	}
	fmt.Fprintf(c.progress(), "lab: host mode: using this host's libvirtd (%s) and bridge(s) %s; nothing created\n", c.LibvirtSocket, strings.Join(bridges, ", "))
	return nil
}

// Down stops the daemons Up started and deletes the namespace. It refuses
// while other processes (guests) still run in the namespace, unless force,
// which kills them: remove the harness's domains with `e2e down` first.
func Down(ctx context.Context, c Config, force bool) error {
	if err := c.validate(); err != nil {
		return err
	}
	if c.Mode != ModeNetns {
		fmt.Fprintf(c.progress(), "lab: %s mode: nothing to take down\n", c.Mode)
		return nil
	}
	if _, err := os.Stat(filepath.Join(NetnsDir, c.Namespace)); errors.Is(err, os.ErrNotExist) {
		fmt.Fprintf(c.progress(), "lab: netns %s does not exist; nothing to take down\n", c.Namespace)
		return stopDaemons(ctx, c) // pid files of daemons whose namespace vanished
	}
	others, err := othersInNamespace(c.Namespace)
	if err != nil {
		return err
	}
	if len(others) > 0 && !force {
		return fmt.Errorf("lab: %d process(es) still run in netns %s (%s); remove the harness's guests with `e2e down` first, or kill them with `e2e lab down --force`",
			len(others), c.Namespace, describe(others))
	}
	if err := killAll(ctx, c, others); err != nil {
		return err
	}
	if err := stopDaemons(ctx, c); err != nil {
		return err
	}
	// The runs' networks are of no use without the lab.
	runs, err := c.SegmentRuns(ctx)
	if err != nil {
		return err
	}
	for _, r := range runs {
		if err := c.Segment(r).Remove(ctx); err != nil {
			return err
		}
		fmt.Fprintf(c.progress(), "lab: removed the network of run %s\n", r)
	}
	return deleteNamespace(ctx, c)
}

func (c Config) progress() io.Writer {
	if c.Progress == nil {
		return io.Discard
	}
	return c.Progress
}
