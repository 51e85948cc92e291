package harness

import (
	"context"
	"fmt"

	"github.com/drivelab/drivelab/framework/lint"
	"github.com/drivelab/drivelab/framework/render"
	"github.com/drivelab/drivelab/framework/topology"
)

// lintedDrives is a run's one rendering: topo's drives from in's templates
// with the run's access, linted as they are, so what lint passed is what is
// built, booted and, for a kept lab, diffed. Lint problems fail here,
// before anything is touched; done says what was not ("nothing was
// booted"). Warnings and checks lint skipped go to Progress.
func lintedDrives(ctx context.Context, in UpInput, topo *topology.Topology, access *Access, done string) (*render.Result, error) {
	res, report := renderLinted(ctx, in, topo, access)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := report.Err(); err != nil {
		return nil, fmt.Errorf("lint (%s): %w", done, err)
	}
	for _, s := range report.Skipped {
		fmt.Fprintf(progressOf(in), "lint: not checked: %s\n", s)
	}
	for _, w := range report.Warnings() {
		fmt.Fprintf(progressOf(in), "lint: warning: %s\n", w)
	}
	return res, nil
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

// renderLinted renders topo's drives from in's templates with access and
// lints that result with lint's rules and in.LintRules. It is the only
// place the harness renders (TestOneRenderingPerRun holds it to that).
func renderLinted(ctx context.Context, in UpInput, topo *topology.Topology, access *Access) (*render.Result, lint.Report) {
	res, err := render.Render(ctx, render.Input{
		Topology: topo, TemplatesDir: in.TemplatesDir, Flavor: in.Flavor,
		Overlay: in.Overlay, PackageDir: in.PackageDir, Access: access.Render(),
	})
	return res, lint.Run(ctx, lint.Input{Rendered: res, RenderErr: err, Rules: in.LintRules})
}
