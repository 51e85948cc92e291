package harness

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/drivelab/drivelab/framework/configdrive"
	"github.com/drivelab/drivelab/framework/lint"
	"github.com/drivelab/drivelab/framework/render"
	"github.com/drivelab/drivelab/framework/topology"
)

// lintedDrives is a run's one rendering: topo's drives from in's templates
// with the run's access, linted as they are, so what lint passed is what is
// built, booted and, for a kept lab, diffed. Lint problems fail here,
// before anything is touched; done says what was not ("nothing was
// booted"). Warnings and checks lint skipped go to Progress. The report
// says what else lint learnt (the version folders cloud-init reads).
func lintedDrives(ctx context.Context, in UpInput, topo *topology.Topology, access *Access, done string) (*render.Result, lint.Report, error) {
	res, report := renderLinted(ctx, in, topo, access)
	if err := ctx.Err(); err != nil {
		return nil, report, err
	}
	if err := report.Err(); err != nil {
		return nil, report, fmt.Errorf("lint (%s): %w", done, err)
	}
	for _, s := range report.Skipped {
		fmt.Fprintf(progressOf(in), "lint: not checked: %s\n", s)
	}
	for _, w := range report.Warnings() {
		fmt.Fprintf(progressOf(in), "lint: warning: %s\n", w)
	}
	if v := versionsRead(report.SelectedVersions); v != "" {
		fmt.Fprintf(progressOf(in), "lint: cloud-init reads %s\n", v)
	}
	return res, report, nil
}

// Lint renders in's drives as Up does, with an access of fresh keys kept
// nowhere in place of a run's (NewAccess), and lints them with
// in.LintRules: what `e2e lint` and the self-test's lint stage check.
func Lint(ctx context.Context, in UpInput) lint.Report {
	if in.Topology == nil {
		return lint.Run(ctx, lint.Input{RenderErr: fmt.Errorf("harness: UpInput.Topology is nil; load one with topology.Load")})
	}
	access, err := NewAccess(in.Topology)
	if err != nil {
		return lint.Run(ctx, lint.Input{RenderErr: fmt.Errorf("lint: keys standing in for a run's: %w", err)})
	}
	_, report := renderLinted(ctx, in, in.Topology, access)
	return report
}

// Written is what WriteDrives wrote.
type Written struct {
	// Report is lint's, warnings and all.
	Report lint.Report
	Drives []render.Drive
	// Manifest lists every file of every drive; Stale are the images of
	// nodes no longer in the topology, removed from the folder.
	Manifest []configdrive.ManifestEntry
	Stale    []string
}

// WriteDrives renders in's drives once, without a run's keys (the drives
// an orchestration engine would hand its servers), lints them and writes
// every node's image and a manifest into dir, all or nothing: `e2e drives`.
// Drives lint rejects are written only with force; the error says so.
func WriteDrives(ctx context.Context, in UpInput, dir string, force bool) (Written, error) {
	res, report := renderLinted(ctx, in, in.Topology, nil)
	w := Written{Report: report}
	if err := ctx.Err(); err != nil {
		return w, fmt.Errorf("%w; %s is as it was", err, dir)
	}
	if err := report.Err(); err != nil && !force {
		return w, fmt.Errorf("lint: %w\nnothing written; fix the templates or topology, or pass --force to write these drives anyway", err)
	}
	if res == nil { // render failed: lint's report says where
		return w, cmp.Or(report.Err(), errors.New("nothing rendered"))
	}
	w.Drives = res.Drives
	w.Stale = configdrive.Stale(dir, res.Drives)
	var err error
	if w.Manifest, err = configdrive.WriteAll(ctx, res.Drives, dir); err != nil {
		return w, fmt.Errorf("%w; %s is as it was", err, dir)
	}
	return w, nil
}

// renderLinted renders topo's drives from in's templates with access (nil:
// none, vendor_data is {}) and lints that result with lint's rules and
// in.LintRules. It is the only place the harness renders
// (TestOneRenderingPerRun holds it to that).
func renderLinted(ctx context.Context, in UpInput, topo *topology.Topology, access *Access) (*render.Result, lint.Report) {
	var ra *render.Access
	if access != nil {
		ra = access.Render()
	}
	res, err := render.Render(ctx, render.Input{
		Topology: topo, TemplatesDir: in.TemplatesDir, Flavor: in.Flavor,
		Overlay: in.Overlay, PackageDir: in.PackageDir, Access: ra,
	})
	return res, lint.Run(ctx, lint.Input{Rendered: res, RenderErr: err, Rules: in.LintRules})
}

// versionsRead says which version folder cloud-init reads on which nodes'
// drives ("openstack/2018-08-27/ on every node's drive"), "" when lint
// did not read them.
func versionsRead(byNode map[string]string) string {
	nodes := map[string][]string{}
	for n, v := range byNode {
		nodes[v] = append(nodes[v], n)
	}
	var parts []string
	for _, v := range slices.Sorted(maps.Keys(nodes)) {
		if len(nodes) == 1 {
			return fmt.Sprintf("openstack/%s/ of every node's drive", v)
		}
		parts = append(parts, fmt.Sprintf("openstack/%s/ on %s", v, strings.Join(slices.Sorted(slices.Values(nodes[v])), ", ")))
	}
	return strings.Join(parts, "; ")
}
