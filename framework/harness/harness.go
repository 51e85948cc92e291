// Package harness is a run's lifecycle, told once: Prepare (render and
// lint the drives), Admit (a claim on the host), Network, Boot (through a
// platform.Platform), Connect, Check, Collect, Report and Down. Up runs the
// first five in order. The Ginkgo suite, every `e2e` command, the self-test
// and the drills call these verbs and sequence nothing themselves. It is
// plain Go: every verb returns an error, none needs Ginkgo.
package harness

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/drivelab/drivelab/framework/config"
	"github.com/drivelab/drivelab/framework/configdrive"
	"github.com/drivelab/drivelab/framework/lint"
	"github.com/drivelab/drivelab/framework/platform"
	"github.com/drivelab/drivelab/framework/profile"
	"github.com/drivelab/drivelab/framework/render"
	"github.com/drivelab/drivelab/framework/runid"
	"github.com/drivelab/drivelab/framework/sshx"
	"github.com/drivelab/drivelab/framework/topology"
	"github.com/drivelab/drivelab/framework/verify"
	"github.com/drivelab/drivelab/framework/vm"
)

// UpInput is everything a run needs.
type UpInput struct {
	// RunID names everything the run creates (runid.ID derives the names).
	RunID    runid.ID
	Topology *topology.Topology
	// TemplatesDir, Flavor and Overlay select the templates (see render.Input).
	TemplatesDir, Flavor, Overlay string
	// PackageDir holds the flavor's package files.
	PackageDir string
	// Drives are drive images built before, by node (`e2e boot`): the run
	// renders, lints and connects to nothing then, it only boots them.
	Drives map[string]string
	// Platform runs the machines: Open makes the host's libvirt one.
	Platform platform.Platform
	Paths    config.Paths
	// ArtifactsDir is the run's artifacts folder; "": <Paths.Artifacts>/<run>.
	ArtifactsDir string
	Intervals    config.Intervals
	// Progress receives one line per node state change.
	Progress io.Writer
	// KernelArgs and GateSkip change a node's boot (platform.BootInput).
	KernelArgs, GateSkip map[string]string
	// Diagnostics are the scenario's own evidence, read by Collect from
	// every node after a failure next to the harness's.
	Diagnostics []verify.Diagnostic
	// LintRules are the scenario's lint rules (scenarios.Scenario.Lint), run
	// on the rendered drives with lint's own before anything boots.
	LintRules []lint.Rule
	// ChecksAtOnce bounds how many checks run at the same time
	// (config.ChecksAtOnce); 0: all of them.
	ChecksAtOnce int
	// Budget is what runs on this host may take together; zero: the platform's.
	Budget platform.Budget
	// Registry is the host's run registry; "": RegistryDir.
	Registry string
	// Golden is a golden drive listing (fixtures/golden/<flavor>.txt) that
	// Prepare compares the drives of these templates with, for the report
	// (golden.diff); "": none. Set it only for the topology the listing
	// was made from (fixtures/topology.yaml).
	Golden string
}

// Libvirt is the input's platform when it is the host's libvirt, else nil:
// for the commands that reach libvirt itself (`e2e ssh`, the drills).
func (in UpInput) Libvirt() *Libvirt {
	p, _ := in.Platform.(*Libvirt)
	return p
}

func (in UpInput) registry() string { return cmp.Or(in.Registry, RegistryDir) }

// Run is one run of a topology, from its drives to its teardown.
type Run struct {
	in UpInput
	ID runid.ID
	// StateDir holds the run's keys and drives; ArtifactsDir what it leaves
	// for people and CI.
	StateDir, ArtifactsDir string
	Drives                 []render.Drive
	// Env is what checks see, once connected.
	Env *verify.Env
	// Network is the run's own network; Cluster its booted machines, whose
	// boot Boot reports.
	Network platform.Network
	Cluster platform.Cluster
	Boot    platform.BootReport
	// Profile is where the boot time went (Collect).
	Profile *profile.Profile

	access *Access
	// metadataVersions are the version folders lint saw the host's
	// cloud-init read, by node (verify.Env.MetadataVersions).
	metadataVersions map[string]string
	client           topology.Node
	ticket           *Ticket
	sessions         map[string]*sshx.Client
}

// Up prepares, admits, networks, boots and connects the run: a lab the
// checks can use. Every input problem is reported before a machine is
// created; on any failure, what Up created is removed again (consoles and
// drives stay in the artifacts folder).
func Up(ctx context.Context, in UpInput) (l *Run, err error) {
	if l, err = Prepare(ctx, in); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, l.saveDrives(), l.Down(context.WithoutCancel(ctx)))
		}
	}()
	verbs := []func(context.Context) error{l.Admit, l.CreateNetwork, l.BootMachines, l.Connect}
	if in.Drives != nil {
		verbs = verbs[:3] // drives built elsewhere hold keys the run does not know
	}
	for _, verb := range verbs {
		if err := verb(ctx); err != nil {
			return l, err
		}
	}
	return l, nil
}

// Prepare makes the run's folders and keys and renders and lints its
// drives: everything lint can see fails here, before a machine exists.
func Prepare(ctx context.Context, in UpInput) (_ *Run, err error) {
	if err := in.check(); err != nil {
		return nil, err
	}
	l := &Run{
		in:           in,
		ID:           in.RunID,
		StateDir:     in.RunID.StateDir(in.Paths.State),
		ArtifactsDir: cmp.Or(in.ArtifactsDir, in.RunID.ArtifactsDir(in.Paths.Artifacts)),
	}
	if l.client, err = in.Topology.ClientNode(); err != nil {
		return nil, err
	}
	if err := privateRunDir(in.Paths, l.StateDir); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil { // nothing else exists yet: the state folder is all there is to undo
			err = errors.Join(err, os.RemoveAll(l.StateDir))
		}
	}()
	if err := os.MkdirAll(l.ArtifactsDir, 0o755); err != nil {
		return nil, err
	}
	if in.Drives != nil {
		return l, nil
	}
	if l.access, err = LoadOrCreateAccess(filepath.Join(l.StateDir, "keys"), in.Topology); err != nil {
		return nil, err
	}
	drives, report, err := lintedDrives(ctx, in, in.Topology, l.access, "nothing was booted")
	// Also after a lint error: a template change is its likeliest cause.
	if err := writeGoldenDiff(ctx, in, l.ArtifactsDir); err != nil {
		l.say("report: no diff against the golden listing: %v", err)
	}
	if err != nil {
		return nil, err
	}
	l.Drives, l.metadataVersions = drives.Drives, report.SelectedVersions
	return l, nil
}

// check names the field a caller left out.
func (in UpInput) check() error {
	var errs []error
	if err := in.RunID.Check(); err != nil {
		errs = append(errs, fmt.Errorf("UpInput.RunID: %w", err))
	}
	if in.Topology == nil {
		errs = append(errs, errors.New("UpInput.Topology is nil; load one with topology.Load"))
	}
	if in.Platform == nil {
		errs = append(errs, errors.New("UpInput.Platform is nil; harness.Open makes the host's"))
	}
	if in.Intervals.Admission <= 0 || in.Intervals.Teardown <= 0 {
		errs = append(errs, errors.New("UpInput.Intervals are not set (config.DefaultIntervals)"))
	}
	return errors.Join(errs...)
}

// Admit reaps what killed runs left, then records the run's claim once it
// fits on the host beside the runs already there.
func (r *Run) Admit(ctx context.Context) error {
	// What killed runs left burns the host's cores and holds its memory.
	if err := r.in.Platform.Reap(ctx, r.say); err != nil {
		return err
	}
	vcpus, mem, err := r.in.Platform.Footprint(r.in.Topology)
	if err != nil {
		return err
	}
	budget := r.in.Budget
	if budget == (platform.Budget{}) {
		if budget, err = r.in.Platform.Budget(); err != nil {
			return err
		}
	}
	claim := Claim{Run: r.ID.String(), Owner: vm.ProcessOwner(r.ID.String(), ""), VCPUs: vcpus, MemoryMiB: mem, Booting: true, Since: time.Now(),
		Exclusive: r.in.Platform.Network(r.ID).Shared()}
	iv := r.in.Intervals
	ctx, cancel := context.WithTimeoutCause(ctx, iv.Admission,
		fmt.Errorf("no room on this host within the Admission interval (%s, E2E_ADMISSION)", iv.Admission))
	defer cancel()
	r.ticket, err = Admit(ctx, AdmitInput{
		Claim: claim, Budget: budget, Dir: r.in.registry(),
		Poll: iv.Poll, Report: admissionReport, Progress: r.say,
	})
	return err
}

// CreateNetwork makes the run's own network.
func (r *Run) CreateNetwork(ctx context.Context) error {
	net := r.in.Platform.Network(r.ID)
	if err := net.Create(ctx); err != nil {
		return err
	}
	r.Network = net
	if net.Shared() == "" {
		r.say("harness: run %s has its own network: %s", r.ID, net)
	}
	return nil
}

// BootMachines builds the drives and boots every node from its own.
func (r *Run) BootMachines(ctx context.Context) (err error) {
	if r.ticket == nil || r.Network == nil {
		return errors.New("harness: BootMachines needs Admit and CreateNetwork first (Up runs the verbs in order)")
	}
	isos := r.in.Drives
	if isos == nil {
		if isos, err = buildDrives(ctx, r.Drives, filepath.Join(r.StateDir, "drives")); err != nil {
			return err
		}
	}
	if r.Cluster, err = r.in.Platform.Boot(ctx, r.bootInput(r.in.Topology, isos)); err != nil {
		return err
	}
	r.Boot = r.Cluster.Report()
	return r.ticket.Booted()
}

func (r *Run) bootInput(topo *topology.Topology, drives map[string]string) platform.BootInput {
	return platform.BootInput{
		Run: r.ID, Topology: topo, Drives: drives, Network: r.Network,
		ArtifactsDir: r.ArtifactsDir, Progress: r.in.Progress,
		KernelArgs: r.in.KernelArgs, GateSkip: r.in.GateSkip,
	}
}

// Connect opens root sessions to every node through the client node and
// builds the checks' Env over them and the lab's drives.
func (r *Run) Connect(ctx context.Context) error {
	var err error
	r.sessions, err = Connect(ctx, ConnectInput{
		Topology: r.in.Topology, Client: r.client, Dial: r.Network.DialContext,
		Access: r.access, Intervals: r.in.Intervals,
	})
	if err != nil {
		return err
	}
	r.Env = &verify.Env{
		Topology:  r.in.Topology,
		Client:    r.client,
		Files:     injectedFiles(r.Drives),
		Root:      r.sessions,
		HostKeys:  r.access.HostKeys(),
		Intervals: r.in.Intervals,
		AtOnce:    r.in.ChecksAtOnce,

		MetadataVersions: r.metadataVersions,
	}
	return nil
}

// StartChecks starts checks together (verify.Start), bounded by the check
// budget; each channel yields one check's results.
func (r *Run) StartChecks(ctx context.Context, checks []verify.Check) (map[string]<-chan []verify.Result, context.CancelFunc) {
	ctx, cancel := context.WithTimeout(ctx, r.in.Intervals.CheckBudget())
	return verify.Start(ctx, r.Env, checks), cancel
}

// Check runs checks together and returns their node x check verdict.
func (r *Run) Check(ctx context.Context, checks []verify.Check) *verify.Verdict {
	pending, cancel := r.StartChecks(ctx, checks)
	defer cancel()
	verdict := verify.NewVerdict(r.in.Topology.NodeNames())
	for _, c := range checks {
		verdict.Add(c.Name, <-pending[c.Name])
	}
	return verdict
}

// Collect gathers the run's evidence into its artifacts folder: where the
// boot time went (Profile, profile.json, timeline.svg) when the run booted
// machines and, after a failure, every node's diagnostics and the redacted
// drives. Problems reaching a node are written down, not returned:
// evidence never masks the failure that asked for it.
func (r *Run) Collect(ctx context.Context, failed bool) error {
	var errs []error
	if r.Cluster != nil {
		prof, err := r.profile(ctx)
		if err != nil {
			r.say("boot profile incomplete: %v", err)
		}
		r.Profile = prof
		svg, err := r.writeProfile(prof)
		errs = append(errs, err)
		if err == nil {
			r.say("boot timeline: %s", svg)
			for i, s := range prof.Costliest(5) {
				r.say("  costliest stage %d: %-8s %-22s %6.1fs", i+1, s.Node, s.Name, s.DurationS)
			}
		}
	}
	if failed {
		r.diagnose(ctx)
		errs = append(errs, r.saveDrives())
		r.say("diagnostics in %s", r.ArtifactsDir)
	}
	return errors.Join(errs...)
}

// Down closes the sessions, destroys the run's machines, network and claim
// and removes its state. It works with ctx already cancelled (Ctrl-C): it
// takes a fresh context bounded by the Teardown interval.
func (r *Run) Down(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.in.Intervals.Teardown)
	defer cancel()
	r.Close()
	var errs []error
	if r.Cluster != nil {
		errs = append(errs, r.Cluster.Destroy(ctx))
	}
	// The claim goes last: a run's resources without it are an orphan's.
	if err := errors.Join(errs...); err == nil {
		if r.Network != nil {
			errs = append(errs, r.Network.Remove(ctx))
		}
		if r.ticket != nil {
			errs = append(errs, r.ticket.Release())
		}
	}
	errs = append(errs, os.RemoveAll(r.StateDir))
	return errors.Join(errs...)
}

// Close closes the lab's sessions and leaves its machines running.
func (r *Run) Close() {
	CloseAll(r.sessions)
	r.sessions = nil
}

func (r *Run) say(format string, args ...any) {
	fmt.Fprintf(progressOf(r.in), format+"\n", args...)
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
func (r *Run) saveDrives() error {
	if r.Drives == nil {
		return nil
	}
	return saveRedacted(context.Background(), r.Drives, filepath.Join(r.ArtifactsDir, "drives"))
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
