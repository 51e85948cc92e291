package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/drivelab/drivelab/framework/configdrive"
	"github.com/drivelab/drivelab/framework/harness"
	"github.com/drivelab/drivelab/framework/render"
)

func init() {
	register(command{
		name:    "drives",
		summary: "lint, then write one config-2 ISO per node and a manifest (all or nothing)",
		run:     runDrives,
	})
}

func runDrives(ctx context.Context, args []string) error {
	fs := newFlags("drives")
	rf := addRenderFlags(fs)
	out := fs.String("out", "out/drives", "the folder receiving <node>.iso and "+configdrive.ManifestFile)
	force := fs.Bool("force", false, "write the drives even if lint finds problems (says so loudly)")
	fs.Lookup("packages").Usage += " (debian12: default the image build's bundles)"
	scenario := addScenarioFlag(fs)
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	in, err := rf.input(fs)
	if err := errors.Join(err, requireFlags(fs, "out")); err != nil {
		return err
	}
	rules, err := lintRules(*scenario)
	if err != nil {
		return err
	}
	if in.PackageDir == "" && debian12Bundles(in) {
		// The debian12 bundles come with the guest image's build.
		env, err := settings()
		if err != nil {
			return err
		}
		if _, in.PackageDir, err = harness.Guest(harness.GuestInput{CacheDir: env.Paths.Cache}); err != nil {
			return fmt.Errorf("no --packages and no image build to take debian12's bundles from: %w", err)
		}
	}
	if in.PackageDir == "" {
		fl, err := render.LoadFlavor(in.TemplatesDir, in.Flavor)
		if err != nil {
			return err
		}
		var files []string
		for _, f := range fl.Packages {
			files = append(files, f)
		}
		slices.Sort(files)
		return fmt.Errorf("--packages is required: the folder holding %s for flavor %s", strings.Join(files, " and "), in.Flavor)
	}
	// Rendered once: lint checks the very drives written. Drives lint
	// rejects would fail minutes into a boot, if at all.
	w, err := harness.WriteDrives(ctx, harness.UpInput{
		Topology: in.Topology, TemplatesDir: in.TemplatesDir, Flavor: in.Flavor, Overlay: in.Overlay,
		PackageDir: in.PackageDir, LintRules: rules,
	}, *out, *force)
	for _, s := range w.Report.Skipped {
		fmt.Fprintln(os.Stderr, "lint skipped:", s)
	}
	if err != nil {
		return err
	}
	if lerr := w.Report.Err(); lerr != nil {
		fmt.Fprintf(os.Stderr, "WARNING: --force: writing drives that lint rejects; they are not what the topology says.\nlint: %v\n", lerr)
	}
	for _, s := range w.Stale {
		fmt.Printf("removed %s: its node is not in %s\n", filepath.Join(*out, s), in.Topology.Path)
	}
	sizes := map[string]int64{}
	for _, e := range w.Manifest {
		sizes[e.Node] += e.Size
	}
	for _, d := range w.Drives {
		fmt.Printf("%s\t%d bytes of files\n", filepath.Join(*out, configdrive.ImageName(d.Node.Name)), sizes[d.Node.Name])
	}
	fmt.Println(filepath.Join(*out, configdrive.ManifestFile))
	return nil
}

// debian12Bundles is true for debian12 and a flavor that takes its
// templates and packages from it (debian12-nova).
func debian12Bundles(in render.Input) bool {
	fl, err := render.LoadFlavor(in.TemplatesDir, in.Flavor)
	return err == nil && (fl.Name == "debian12" || fl.TemplatesFrom == "debian12")
}
