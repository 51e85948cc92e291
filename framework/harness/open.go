package harness

import (
	"context"
	"errors"
	"runtime"

	"github.com/drivelab/drivelab/framework/config"
	"github.com/drivelab/drivelab/framework/lab"
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
}

// Open is the one way the CLI and the suites reach a lab: it builds the
// lab's config for the topology, connects to its libvirtd, learns the
// accelerator and so the intervals, and resolves the guest image. The
// returned UpInput is in.Run with all of that; Close disconnects.
func Open(ctx context.Context, in OpenInput) (UpInput, error) {
	s, up := in.Settings, in.Run
	if up.Topology == nil {
		return UpInput{}, errors.New("harness.Open: OpenInput.Run.Topology is nil; load one with topology.Load")
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
	conn, err := vm.Connect(ctx, lc.LibvirtSocket)
	if err != nil {
		return UpInput{}, err
	}
	accel, err := vm.Accel(conn, s.Accel)
	if err != nil {
		conn.Disconnect()
		return UpInput{}, err
	}
	p.Conn, p.Accel, p.Start, p.Intervals = conn, accel, s.BootFor(accel), s.Intervals(accel)
	up.Platform, up.Intervals, up.ChecksAtOnce = p, p.Intervals, config.ChecksAtOnce(accel, runtime.NumCPU())
	if up.RunID == "" {
		up.RunID = runid.New()
	}
	return up, nil
}

// Close disconnects what Open connected.
func (in UpInput) Close() {
	if p := in.Libvirt(); p != nil && p.Conn != nil {
		p.Conn.Disconnect()
	}
}
