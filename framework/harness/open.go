package harness

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"

	"github.com/drivelab/drivelab/framework/config"
	"github.com/drivelab/drivelab/framework/lab"
	"github.com/drivelab/drivelab/framework/remote"
	"github.com/drivelab/drivelab/framework/runid"
	"github.com/drivelab/drivelab/framework/vm"
)

// OpenInput is what opening the lab for a run takes.
type OpenInput struct {
	Settings config.Settings
	// Run is the run's own choices (Topology, required; templates, run id,
	// scenario's rules...); Open fills in the rest.
	Run UpInput
	// Guest selects the image to boot; nil when the caller has it already
	// (a kept lab's record names its image).
	Guest *GuestInput
	// Host is where the run goes; nil: the one host the settings name
	// (E2E_HOSTS), this machine by default.
	Host *remote.Host
}

// Open is the one way the CLI and the suites reach a lab: it builds the
// lab's config for the topology, connects to its libvirtd (this machine's,
// or a remote host's over SSH), learns the accelerator and so the
// intervals, and resolves the guest image (uploading it to a remote host).
// The returned UpInput is in.Run with all of that; Close disconnects.
func Open(ctx context.Context, in OpenInput) (UpInput, error) {
	s, up := in.Settings, in.Run
	if up.Topology == nil {
		return UpInput{}, errors.New("harness.Open: OpenInput.Run.Topology is nil; load one with topology.Load")
	}
	host := in.Host
	if host == nil {
		h, err := SettingsHost(s)
		if err != nil {
			return UpInput{}, err
		}
		host = &h
	}
	lc, err := lab.DefaultConfig(s, up.Topology)
	if err != nil {
		return UpInput{}, err
	}
	p := &Libvirt{Lab: lc, Paths: s.Paths, Limits: s.Limits, Registry: up.registry()}
	up.Paths = s.Paths
	if in.Guest != nil {
		if p.Image, up.PackageDir, err = Guest(*in.Guest); err != nil {
			return UpInput{}, err
		}
	}
	if host.Local {
		if err := openLocal(ctx, s, p); err != nil {
			return UpInput{}, err
		}
	} else {
		if up.Registry == "" {
			p.Registry = HostRegistry(host.Name)
			up.Registry = p.Registry
		}
		if err := openRemote(ctx, s, *host, p, up.Progress); err != nil {
			return UpInput{}, err
		}
		p.Intervals = s.Intervals(p.Accel)
	}
	up.Platform, up.Intervals, up.ChecksAtOnce = p, p.Intervals, config.ChecksAtOnce(p.Accel, cmp.Or(p.hostCores(), runtime.NumCPU()))
	if up.RunID == "" {
		up.RunID = runid.New()
	}
	return up, nil
}

// openLocal connects p to this machine's libvirtd.
func openLocal(ctx context.Context, s config.Settings, p *Libvirt) error {
	conn, err := vm.Connect(ctx, p.Lab.LibvirtSocket)
	if err != nil {
		return err
	}
	accel, err := vm.Accel(conn, s.Accel)
	if err != nil {
		conn.Disconnect()
		return err
	}
	p.Conn, p.Accel, p.Start, p.Intervals = conn, accel, s.BootFor(accel), s.Intervals(accel)
	return nil
}

// hostCores are the remote host's cores; 0 for this machine.
func (p *Libvirt) hostCores() int {
	if p.Remote != nil {
		return p.Remote.Cores
	}
	return 0
}

// Hosts are the libvirt hosts the settings name (E2E_HOSTS, read with the
// user's ssh_config): this machine alone by default.
func Hosts(s config.Settings) ([]remote.Host, error) {
	cfg, err := remote.LoadSSHConfig(s.SSHConfig)
	if err != nil {
		return nil, err
	}
	if strings.TrimSpace(s.Hosts) == "" {
		return []remote.Host{ThisMachine}, nil
	}
	return remote.ParseHosts(s.Hosts, cfg)
}

// ThisMachine is the host of this machine's libvirtd.
var ThisMachine = remote.Host{URI: "qemu:///system", Local: true, Name: Local}

// UsesThisMachine says whether the settings' hosts include this machine.
func UsesThisMachine(s config.Settings) (bool, error) {
	hosts, err := Hosts(s)
	if err != nil {
		return false, fmt.Errorf("E2E_HOSTS: %w", err)
	}
	return slices.ContainsFunc(hosts, func(h remote.Host) bool { return h.Local }), nil
}

// SettingsHost is the one host the settings name, for the commands that
// run on one host.
func SettingsHost(s config.Settings) (remote.Host, error) {
	hosts, err := Hosts(s)
	if err != nil {
		return remote.Host{}, fmt.Errorf("E2E_HOSTS: %w", err)
	}
	if len(hosts) != 1 {
		return remote.Host{}, fmt.Errorf("E2E_HOSTS names %d hosts, and this runs on one: set E2E_HOSTS to one of them (make e2e spreads its scenarios over several)", len(hosts))
	}
	return hosts[0], nil
}

// Close disconnects what Open connected.
func (in UpInput) Close() {
	if p := in.Libvirt(); p != nil {
		p.Close()
	}
}
