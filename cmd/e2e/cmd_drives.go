package main

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/drivelab/drivelab/framework/configdrive"
	"github.com/drivelab/drivelab/framework/image"
	"github.com/drivelab/drivelab/framework/render"
)

func init() {
	register(command{
		name:    "drives",
		summary: "write one config-2 ISO per node and a manifest (run e2e lint first)",
		run:     runDrives,
	})
}

func runDrives(ctx context.Context, args []string) error {
	fs := newFlags("drives")
	rf := addRenderFlags(fs)
	out := fs.String("out", "out/drives", "folder receiving <node>.iso and "+configdrive.ManifestFile)
	fs.Lookup("packages").Usage += " (debian12: default the image build's bundles)"
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	in, err := rf.input()
	if err != nil {
		return err
	}
	if in.PackageDir == "" && in.Flavor == "debian12" {
		// The debian12 bundles come with the guest image's build.
		a, err := image.Lookup("")
		if err != nil {
			return fmt.Errorf("no --packages and no image build to take debian12's bundles from: %w", err)
		}
		in.PackageDir = a.PackageDir
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
	drives, err := render.Render(ctx, in)
	if err != nil {
		return err
	}
	manifest, err := configdrive.WriteAll(ctx, drives, *out)
	if err != nil {
		return err
	}
	sizes := map[string]int64{}
	for _, e := range manifest {
		sizes[e.Node] += e.Size
	}
	for _, d := range drives {
		fmt.Printf("%s\t%d bytes of files\n", filepath.Join(*out, configdrive.ImageName(d.Node.Name)), sizes[d.Node.Name])
	}
	fmt.Println(filepath.Join(*out, configdrive.ManifestFile))
	return nil
}
