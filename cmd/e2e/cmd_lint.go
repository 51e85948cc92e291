package main

import (
	"context"
	"flag"
	"fmt"
	"os"

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
		flavor:    fs.String("flavor", "debian12", "guest flavor: a folder of --templates (centos7, debian12)"),
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

func runLint(ctx context.Context, args []string) error {
	fs := newFlags("lint")
	rf := addRenderFlags(fs)
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	in, err := rf.input(fs)
	if err != nil {
		return err
	}
	r := lint.Run(ctx, in)
	for _, s := range r.Skipped {
		fmt.Fprintln(os.Stderr, "skipped:", s)
	}
	for _, w := range r.Warnings {
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
