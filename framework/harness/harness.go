// Package harness composes the parts into a lab a test can use: render the
// drives, boot the nodes, open SSH sessions from the client node, and take it
// all down again. It is plain Go, used by the Ginkgo suites and the CLI alike.
package harness

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/drivelab/drivelab/framework/config"
	"github.com/drivelab/drivelab/framework/configdrive"
	"github.com/drivelab/drivelab/framework/lab"
	"github.com/drivelab/drivelab/framework/lint"
	"github.com/drivelab/drivelab/framework/render"
	"github.com/drivelab/drivelab/framework/sshx"
	"github.com/drivelab/drivelab/framework/topology"
	"github.com/drivelab/drivelab/framework/verify"
	"github.com/drivelab/drivelab/framework/vm"
)

// UpInput is everything a lab needs.
type UpInput struct {
	// RunID prefixes every domain, volume and file of the run.
	RunID    string
	Topology *topology.Topology
	// TemplatesDir, Flavor and Overlay select the templates (see render.Input).
	TemplatesDir, Flavor, Overlay string
	// Conn is the libvirt connection the nodes are created on.
	Conn vm.Libvirt
	// Image is the guest to boot: the built image, or a user's disk alone.
	Image vm.Image
	// PackageDir holds the flavor's package files.
	PackageDir string
	Lab        lab.Config
	Paths      config.Paths
	Intervals  config.Intervals
	// Limits cap every node's size (config.Settings); Accel is the
	// accelerator, as forced by E2E_ACCEL or found by Open ("": detect).
	Limits config.Limits
	Accel  config.Accel
	// Boot is how the nodes start (config.Settings.BootFor the accelerator).
	Boot config.Boot
	// Progress receives one line per node state change.
	Progress io.Writer
	// KernelArgs appends to nodes' kernel command lines (vm.BootInput.KernelArgs).
	KernelArgs map[string]string
	// GateSkip makes nodes' gates skip steps (vm.BootInput.GateSkip).
	GateSkip map[string]string
	// Diagnostics are the scenario's own evidence, read by Lab.Diagnose
	// from every node after a failure next to the harness's.
	Diagnostics []verify.Diagnostic
	// LintRules are the scenario's lint rules (scenarios.Scenario.Lint), run
	// on the rendered drives with lint's own before anything boots.
	LintRules []lint.Rule
	// Budget is what runs on this host may take together; zero: DefaultBudget.
	Budget Budget
	// Registry is the host's run registry; "": RegistryDir.
	Registry string
}

// Host is what this run shares with the others on the machine.
func (in UpInput) Host() Host {
	return Host{Conn: in.Conn, Lab: in.Lab, Paths: in.Paths, Registry: cmp.Or(in.Registry, RegistryDir)}
}

// Lab is a booted topology with root sessions to every node.
type Lab struct {
	in UpInput
	// StateDir holds the run's keys and drives; ArtifactsDir its diagnostics.
	StateDir, ArtifactsDir string
	Drives                 []render.Drive
	Env                    *verify.Env
	Run                    *vm.Run
	// Segment is the run's own network.
	Segment  lab.Segment
	ticket   *Ticket
	sessions map[string]*sshx.Client
}

// Up renders and builds the drives, boots every node in parallel and
// connects to them. Every input problem is reported before a VM is created;
// on any failure, what Up created is removed again (consoles and drives stay
// in the artifacts folder).
func Up(ctx context.Context, in UpInput) (l *Lab, err error) {
	l = &Lab{
		in:           in,
		StateDir:     filepath.Join(in.Paths.State, "runs", in.RunID),
		ArtifactsDir: filepath.Join(in.Paths.Artifacts, in.RunID),
	}
	client, err := in.Topology.ClientNode()
	if err != nil {
		return nil, err
	}
	if err := privateRunDir(in.Paths, l.StateDir); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(l.ArtifactsDir, 0o755); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, l.saveDrives(), l.Down(context.WithoutCancel(ctx)))
		}
	}()

	access, err := LoadOrCreateAccess(filepath.Join(l.StateDir, "keys"), in.Topology)
	if err != nil {
		return l, err
	}
	// Everything lint can see fails here, before a VM exists.
	drives, err := lintedDrives(ctx, in, in.Topology, access, "nothing was booted")
	if err != nil {
		return l, err
	}
	l.Drives = drives.Drives
	say := func(f string, a ...any) { fmt.Fprintf(progressOf(in), f+"\n", a...) }
	// What killed runs left burns the host's cores and holds its memory.
	if err := in.Host().ReapOrphans(ctx, in.Intervals.Teardown, say); err != nil {
		return l, err
	}
	l.Segment = in.Lab.Segment(in.RunID)
	if l.ticket, err = AdmitRun(ctx, in, l.Segment, say); err != nil {
		return l, err
	}
	if err := l.Segment.Create(ctx); err != nil {
		return l, err
	}
	if !l.Segment.Shared {
		say("harness: run %s has its own network: netns %s, bridge %s", in.RunID, l.Segment.Namespace, l.Segment.Bridge)
	}
	isos, err := buildDrives(ctx, l.Drives, filepath.Join(l.StateDir, "drives"))
	if err != nil {
		return l, err
	}
	l.Run, err = vm.BootAll(ctx, vm.BootInput{
		Conn:         in.Conn,
		RunID:        in.RunID,
		Topology:     in.Topology,
		Image:        in.Image,
		Drives:       isos,
		ArtifactsDir: l.ArtifactsDir,
		Intervals:    in.Intervals,
		Limits:       in.Limits,
		Accel:        in.Accel,
		PoolDir:      in.Paths.PoolDir(),
		Dialer:       l.Segment.Dialer(),
		Bridge:       l.Segment.Bridge,
		Progress:     in.Progress,
		KernelArgs:   in.KernelArgs,
		GateSkip:     in.GateSkip,
		Boot:         in.Boot,
	})
	if err != nil {
		return l, err
	}
	if err := l.ticket.Booted(); err != nil {
		return l, err
	}
	return l, l.connect(ctx, in.Topology, client, access)
}

// connect opens the sessions to every node of topo and builds the checks'
// Env over them and the lab's drives.
func (l *Lab) connect(ctx context.Context, topo *topology.Topology, client topology.Node, access *Access) error {
	var err error
	l.sessions, err = Connect(ctx, ConnectInput{
		Topology: topo, Client: client, Dial: l.Segment.Dialer().DialContext,
		Access: access, Intervals: l.in.Intervals,
	})
	if err != nil {
		return err
	}
	l.Env = &verify.Env{
		Topology:  topo,
		Client:    client,
		Files:     injectedFiles(l.Drives),
		Root:      l.sessions,
		HostKeys:  access.HostKeys(),
		Intervals: l.in.Intervals,
		AtOnce:    config.ChecksAtOnce(l.in.Accel, runtime.NumCPU()),
	}
	return nil
}

// Down closes the sessions, destroys the run's domains and volumes and
// removes its state. It works with ctx already cancelled (Ctrl-C): it takes
// a fresh context bounded by the Teardown interval.
func (l *Lab) Down(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), l.in.Intervals.Teardown)
	defer cancel()
	CloseAll(l.sessions)
	l.sessions = nil
	var errs []error
	if l.Run != nil {
		errs = append(errs, l.Run.Teardown(ctx))
	}
	// The claim goes last: a run's resources without it are an orphan's.
	if err := errors.Join(errs...); err == nil && l.ticket != nil {
		errs = append(errs, l.Segment.Remove(ctx), l.ticket.Release())
	}
	errs = append(errs, os.RemoveAll(l.StateDir))
	return errors.Join(errs...)
}

// AdmitRun records in's claim once the run fits on the host beside the
// runs already there (Admit); seg is the network the run will use.
func AdmitRun(ctx context.Context, in UpInput, seg lab.Segment, say func(string, ...any)) (*Ticket, error) {
	accel, err := vm.Accel(in.Conn, in.Accel)
	if err != nil {
		return nil, err
	}
	vcpus, mem := vm.Footprint(in.Topology, accel, in.Limits)
	budget := in.Budget
	if budget == (Budget{}) {
		if budget, err = HostBudget(accel); err != nil {
			return nil, err
		}
	}
	claim := Claim{Run: in.RunID, Owner: vm.ProcessOwner(in.RunID, ""), VCPUs: vcpus, MemoryMiB: mem, Booting: true, Since: time.Now()}
	if seg.Shared {
		claim.Exclusive = "bridge " + seg.Bridge
	}
	if in.Intervals.Admission <= 0 {
		return nil, errors.New("UpInput.Intervals.Admission is not set (config.DefaultIntervals)")
	}
	ctx, cancel := context.WithTimeoutCause(ctx, in.Intervals.Admission,
		fmt.Errorf("no room on this host within the Admission interval (%s, E2E_ADMISSION)", in.Intervals.Admission))
	defer cancel()
	return Admit(ctx, AdmitInput{
		Claim: claim, Budget: budget, Dir: in.Host().Registry,
		Poll: in.Intervals.Poll, Report: admissionReport, Progress: say,
	})
}

func progressOf(in UpInput) io.Writer {
	if in.Progress == nil {
		return io.Discard
	}
	return in.Progress
}

// buildDrives writes <node>.iso and a manifest into dir, returning the
// images by node. The drives hold the nodes' SSH host private keys and root
// passwords: dir is made 0700 and the images are 0600.
func buildDrives(ctx context.Context, drives []render.Drive, dir string) (map[string]string, error) {
	if err := privateDir(dir); err != nil {
		return nil, err
	}
	if _, err := configdrive.WriteAll(ctx, drives, dir); err != nil {
		return nil, err
	}
	isos := map[string]string{}
	for _, d := range drives {
		isos[d.Node.Name] = filepath.Join(dir, configdrive.ImageName(d.Node.Name))
	}
	return isos, nil
}

// saveDrives copies the rendered drives into the artifacts folder, with
// their private keys redacted (see saveRedacted).
func (l *Lab) saveDrives() error {
	if l.Drives == nil {
		return nil
	}
	return saveRedacted(context.Background(), l.Drives, filepath.Join(l.ArtifactsDir, "drives"))
}

// injectedFiles lists each node's injected files for the checks.
func injectedFiles(drives []render.Drive) map[string][]verify.File {
	files := map[string][]verify.File{}
	for _, d := range drives {
		for _, c := range d.Content {
			files[d.Node.Name] = append(files[d.Node.Name], verify.File{Name: c.Name, Path: c.GuestPath, Data: c.Data})
		}
	}
	return files
}
