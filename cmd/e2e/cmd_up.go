package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/drivelab/drivelab/framework/harness"
	"github.com/drivelab/drivelab/framework/runid"
)

func init() {
	register(command{
		name:    "up",
		summary: "boot the scenario's lab and keep it running; again after a template change: reboot only the nodes whose drive changed",
		run:     runUp,
	})
}

// upChoice is what `e2e up` boots: its flags, or for a kept lab the
// record's values where a flag was not given.
type upChoice struct {
	Run, Scenario, Topology, Templates, Flavor, Overlay, Packages, Image string
}

func runUp(ctx context.Context, args []string) error {
	fs := newFlags("up")
	rf := addRenderFlags(fs)
	topoFlag := fs.Lookup("topology")
	topoFlag.Usage, topoFlag.DefValue = "topology file (default: the scenario's)", "" // DefValue only shows in usage
	fs.Lookup("overlay").Usage += " (default: the scenario's); on a kept lab --overlay '' drops it"
	fs.Lookup("packages").Usage += " (debian12: default the image build's bundles)"
	scenario := fs.String("scenario", defaultScenario, "scenario whose topology, overlay, lint rules and checks the lab is for")
	image := fs.String("image", "", "boot this qcow2/raw cloud image from its own disk (needs --packages) instead of the built one")
	run := fs.String("run", "", "run id of a new lab (default: a fresh one)")
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	env, err := settings()
	if err != nil {
		return err
	}
	paths := env.Paths
	var rec *harness.Record
	if _, err := harness.CurrentRun(paths); err == nil {
		if rec, err = harness.LoadCurrent(paths); err != nil {
			return err
		}
	} else if !errors.Is(err, harness.ErrNoLab) {
		return err
	}
	choice, err := resolveUp(upChoice{
		Run: *run, Scenario: *scenario, Topology: *rf.topology, Templates: *rf.templates, Flavor: *rf.flavor,
		Overlay: *rf.overlay, Packages: *rf.packages, Image: *image,
	}, set, rec)
	if err != nil {
		return err
	}
	topo, err := loadTopology(choice.Topology)
	if err != nil {
		return err
	}
	rules, err := lintRules(choice.Scenario)
	if err != nil {
		return err
	}
	// A new lab boots the chosen image; a kept one keeps its record's.
	var guest *harness.GuestInput
	if rec == nil {
		guest = &harness.GuestInput{CacheDir: paths.Cache, UserImage: choice.Image, PackageDir: choice.Packages}
	}
	up, err := harness.Open(ctx, harness.OpenInput{Settings: env, Guest: guest, Run: harness.UpInput{
		Topology: topo, TemplatesDir: choice.Templates, Flavor: choice.Flavor, Overlay: choice.Overlay,
		Progress: os.Stdout, LintRules: rules,
	}})
	if err != nil {
		return err
	}
	defer up.Close()
	in := harness.KeepInput{Scenario: choice.Scenario, UpInput: up}
	start := time.Now()
	if rec == nil {
		return keepNew(ctx, in, choice, start)
	}
	return update(ctx, in, choice, rec, start)
}

// keepNew boots a fresh kept lab.
func keepNew(ctx context.Context, in harness.KeepInput, choice upChoice, start time.Time) error {
	if choice.Run != "" {
		in.RunID = runid.ID(choice.Run)
	}
	l, rec, err := harness.Keep(ctx, in)
	if err != nil {
		return err
	}
	collect(ctx, l)
	l.Close()
	fmt.Printf("e2e up: kept lab %s is up: %d nodes booted in %.1fs\n", rec.Run, len(rec.Nodes), time.Since(start).Seconds())
	fmt.Println("next: e2e check [--focus REGEX] | e2e ssh NODE [-- CMD] | e2e status | e2e down")
	return nil
}

// update reboots the nodes of the kept lab whose drive changed.
func update(ctx context.Context, in harness.KeepInput, choice upChoice, rec *harness.Record, start time.Time) error {
	in.Libvirt().Image, in.PackageDir = rec.Image, choice.Packages
	was := map[string]string{}
	for _, n := range rec.Nodes {
		was[n.Name] = n.UUID
	}
	fmt.Printf("e2e up: kept lab %s: re-rendering %d drives (flavor %s, overlay %s)\n", rec.Run, len(rec.Nodes), choice.Flavor, orNone(choice.Overlay))
	l, changes, err := harness.Update(ctx, in, rec)
	rebooted := map[string]bool{}
	for _, c := range changes {
		rebooted[c.Node] = true
		if c.UUID != "" {
			fmt.Printf("%-8s instance uuid %s (was %s)\n", c.Node, c.UUID, was[c.Node])
		}
	}
	if err != nil {
		return err
	}
	if len(changes) > 0 {
		collect(ctx, l)
	}
	l.Close()
	var kept []string
	for _, n := range rec.Nodes {
		if !rebooted[n.Name] {
			kept = append(kept, n.Name)
		}
	}
	switch {
	case len(changes) == 0:
		fmt.Printf("e2e up: nothing changed; every node still runs what it booted (%.1fs)\n", time.Since(start).Seconds())
	default:
		fmt.Printf("e2e up: rebooted %d node(s) in %.1fs; untouched: %s\n", len(changes), time.Since(start).Seconds(), orNone(strings.Join(kept, ", ")))
	}
	return nil
}

// resolveUp settles what to boot. Without a kept lab the flags decide, the
// scenario giving the topology and overlay unless they are set. With one,
// a flag that is not set keeps the record's value; the topology, flavor
// and image cannot change under a running lab.
func resolveUp(f upChoice, set map[string]bool, rec *harness.Record) (upChoice, error) {
	if rec == nil {
		sc, err := scenarioNamed(f.Scenario)
		if err != nil {
			return f, err
		}
		if !set["topology"] {
			f.Topology = sc.Topology
		}
		if !set["overlay"] {
			f.Overlay = sc.Overlay
		}
		return f, nil
	}
	c := upChoice{
		Run: rec.Run.String(), Scenario: rec.Scenario, Topology: rec.Topology, Templates: rec.Templates, Flavor: rec.Flavor,
		Overlay: rec.Overlay, Packages: rec.PackageDir,
	}
	fixed := []struct{ flag, want, have string }{
		{"run", f.Run, rec.Run.String()},
		{"topology", abs(f.Topology), rec.Topology},
		{"flavor", f.Flavor, rec.Flavor},
		{"image", abs(f.Image), rec.Image.Disk},
	}
	for _, x := range fixed {
		if set[x.flag] && x.want != x.have {
			return c, fmt.Errorf("--%s %s: the kept lab %s runs %s %s; take it down with `e2e down` to boot another",
				x.flag, x.want, rec.Run, x.flag, orNone(x.have))
		}
	}
	if set["scenario"] {
		if _, err := scenarioNamed(f.Scenario); err != nil {
			return c, err
		}
		c.Scenario = f.Scenario
	}
	if set["templates"] {
		c.Templates = abs(f.Templates)
	}
	if set["overlay"] {
		c.Overlay = abs(f.Overlay)
	}
	if set["packages"] {
		c.Packages = abs(f.Packages)
	}
	return c, nil
}

// abs makes a path absolute, as records keep them; "" stays "".
func abs(p string) string {
	if p == "" {
		return ""
	}
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// collect writes the boot profile of the nodes just booted into the lab's
// artifacts, for `e2e profile`; a profile that cannot be read from a node
// is said, never fatal.
func collect(ctx context.Context, l *harness.Run) {
	if err := l.Collect(ctx, false); err != nil {
		fmt.Printf("e2e up: boot profile incomplete: %v\n", err)
	}
}
