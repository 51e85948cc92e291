package harness

import (
	"context"
	"errors"

	"github.com/drivelab/drivelab/framework/config"
	"github.com/drivelab/drivelab/framework/lab"
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
	up.Lab, up.Paths, up.Limits = lc, s.Paths, s.Limits
	if in.Guest != nil {
		if up.Image, up.PackageDir, err = Guest(*in.Guest); err != nil {
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
	up.Conn, up.Intervals, up.Accel, up.Boot = conn, s.Intervals(accel), accel, s.BootFor(accel)
	return up, nil
}

// Close disconnects what Open connected.
func (in UpInput) Close() {
	if in.Conn != nil {
		in.Conn.Disconnect()
	}
}
