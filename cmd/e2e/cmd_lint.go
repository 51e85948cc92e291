package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"github.com/drivelab/drivelab/framework/harness"
	"github.com/drivelab/drivelab/framework/lint"
	"github.com/drivelab/drivelab/framework/render"
)

func init() {
	register(command{
		name:    "lint",
		summary: "render every node's drive and check it before anything boots",
		run:     runLint,
	})
}

// renderFlags are the inputs lint and drives share.
type renderFlags struct {
	topology, templates, flavor, overlay, packages *string
}

func addRenderFlags(fs *flag.FlagSet) renderFlags {
	return renderFlags{
		topology:  fs.String("topology", "fixtures/topology.yaml", "the topology file"),
		templates: fs.String("templates", "fixtures/templates", "folder holding one folder per flavor"),
		flavor:    fs.String("flavor", "debian12", "guest flavor: a folder of --templates (centos7, debian12, debian12-nova)"),
		overlay:   fs.String("overlay", "", "optional folder whose templates override the flavor's (<name>, or nodes/<node>/<name> for one node)"),
		packages:  fs.String("packages", "", "folder holding the flavor's package files"),
	}
}

// input checks the flags and loads the topology.
func (f renderFlags) input(fs *flag.FlagSet) (render.Input, error) {
	if err := requireFlags(fs, "topology", "templates", "flavor"); err != nil {
		return render.Input{}, err
	}
	t, err := loadTopology(*f.topology)
	if err != nil {
		return render.Input{}, err
	}
	return render.Input{Topology: t, TemplatesDir: *f.templates, Flavor: *f.flavor, Overlay: *f.overlay, PackageDir: *f.packages}, nil
}

// defaultScenario is the scenario a command serves when given none.
const defaultScenario = "loadbalancer"

// addScenarioFlag adds --scenario to a command that lints without a lab.
func addScenarioFlag(fs *flag.FlagSet) *string {
	return fs.String("scenario", defaultScenario, "scenario whose lint rules check the drives besides lint's own")
}

// lintRules are the lint rules of the named scenario.
func lintRules(scenario string) ([]lint.Rule, error) {
	sc, err := scenarioNamed(scenario)
	if err != nil {
		return nil, fmt.Errorf("--scenario: %w", err)
	}
	return sc.Lint, nil
}

func runLint(ctx context.Context, args []string) error {
	fs := newFlags("lint")
	rf := addRenderFlags(fs)
	scenario := addScenarioFlag(fs)
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	in, err := rf.input(fs)
	if err != nil {
		return err
	}
	rules, err := lintRules(*scenario)
	if err != nil {
		return err
	}
	// The drives as a boot renders them, with keys standing in for a run's.
	r := harness.Lint(ctx, harness.UpInput{
		Topology: in.Topology, TemplatesDir: in.TemplatesDir, Flavor: in.Flavor, Overlay: in.Overlay,
		PackageDir: in.PackageDir, LintRules: rules,
	})
	for _, s := range r.Skipped {
		fmt.Fprintln(os.Stderr, "skipped:", s)
	}
	for _, w := range r.Warnings() {
		fmt.Fprintln(os.Stderr, "warning:", w)
	}
	if err := r.Err(); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	packages := "package files not checked (no --packages)"
	if in.PackageDir != "" {
		packages = "package files present"
	}
	fmt.Printf("lint: %s, flavor %s: %d nodes, no problems; %s\n", in.Topology.Path, in.Flavor, len(in.Topology.Nodes), packages)
	return nil
}
