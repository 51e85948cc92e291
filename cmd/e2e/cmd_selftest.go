package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/drivelab/drivelab/framework/config"
	"github.com/drivelab/drivelab/framework/harness"
	"github.com/drivelab/drivelab/framework/lint"
	"github.com/drivelab/drivelab/framework/selftest"
	"github.com/drivelab/drivelab/framework/verify"
	"github.com/drivelab/drivelab/scenarios"
)

func init() {
	register(command{
		name:    "selftest",
		summary: "prove the checks catch broken templates: lint or boot each variant under fixtures/selftest",
		run:     runSelftest,
	})
}

func runSelftest(ctx context.Context, args []string) error {
	env, err := settings()
	if err != nil {
		return err
	}
	fs := newFlags("selftest")
	dir := fs.String("dir", "fixtures/selftest", "folder of variants: <variant>/variant.yaml next to its broken templates")
	only := fs.String("only", "", "comma-separated variant names to run (default: all)")
	topoPath := fs.String("topology", "fixtures/topology.yaml", "topology the variants break")
	templates := fs.String("templates", "fixtures/templates", "folder holding one folder per flavor")
	flavor := fs.String("flavor", "debian12", "flavor the variants' templates override")
	artifacts := fs.String("artifacts", filepath.Join(env.Paths.Artifacts, "selftest-"+time.Now().Format("20060102-150405")),
		"folder for the booted variants' consoles and diagnostics (<variant>/<run>/)")
	image := fs.String("image", "", "boot this qcow2/raw cloud image instead of the built one")
	packages := fs.String("packages", "", "package directory for the flavor (default: the built bundles)")
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	topo, err := loadTopology(*topoPath)
	if err != nil {
		return err
	}
	checks, diagnostics, rules := map[string][]verify.Check{}, map[string][]verify.Diagnostic{}, map[string][]lint.Rule{}
	for _, sc := range scenarios.All() {
		checks[sc.Name], diagnostics[sc.Name], rules[sc.Name] = sc.Checks, sc.Diagnostics, sc.Lint
	}
	variants, err := selftest.Load(*dir, topo, checks, scenarios.LoadBalancer.Name)
	if err != nil {
		return err
	}
	if variants, err = pick(variants, *only); err != nil {
		return err
	}
	in := selftest.Input{
		Variants:    variants,
		Up:          harness.UpInput{Topology: topo, TemplatesDir: *templates, Flavor: *flavor, PackageDir: *packages},
		Checks:      checks,
		Diagnostics: diagnostics,
		Rules:       rules,
		Progress:    os.Stdout,
	}
	// Lint variants alone need no lab.
	run := selftest.Lint
	if slices.ContainsFunc(variants, selftest.Variant.Booted) {
		if err := bootInput(ctx, env, &in.Up, *image, *artifacts); err != nil {
			return err
		}
		defer in.Up.Close()
		run = selftest.Run
	}
	start := time.Now()
	outcomes, err := run(ctx, in)
	fmt.Printf("\nself-test (%s, %s):\n%s", *dir, *flavor, selftest.Table(outcomes))
	for _, o := range outcomes {
		for _, d := range o.Details {
			fmt.Printf("  %s: %s\n", o.Variant.Name, d)
		}
	}
	fmt.Printf("total time: %.1fs\n", time.Since(start).Seconds())
	if err != nil {
		return err
	}
	if missed := selftest.Missed(outcomes); len(missed) > 0 {
		return fmt.Errorf("%d of %d variants were not caught by their own check: %s", len(missed), len(outcomes), strings.Join(missed, ", "))
	}
	return nil
}

// pick keeps the variants named in only (all when empty).
func pick(variants []selftest.Variant, only string) ([]selftest.Variant, error) {
	if only == "" {
		return variants, nil
	}
	var picked []selftest.Variant
	for _, name := range strings.Split(only, ",") {
		i := slices.IndexFunc(variants, func(v selftest.Variant) bool { return v.Name == name })
		if i < 0 {
			var names []string
			for _, v := range variants {
				names = append(names, v.Name)
			}
			return nil, fmt.Errorf("--only: no variant %q (have %s)", name, strings.Join(names, ", "))
		}
		picked = append(picked, variants[i])
	}
	return picked, nil
}

// bootInput opens the lab for up (harness.Open): libvirt, the intervals for
// its accelerator, the guest image and its packages; artifacts go to artifacts.
func bootInput(ctx context.Context, env config.Settings, up *harness.UpInput, image, artifacts string) error {
	opened, err := harness.Open(ctx, harness.OpenInput{
		Settings: env, Run: *up,
		Guest: &harness.GuestInput{CacheDir: env.Paths.Cache, UserImage: image, PackageDir: up.PackageDir},
	})
	if err != nil {
		return err
	}
	opened.Paths.Artifacts, opened.Progress = artifacts, os.Stdout
	*up = opened
	return nil
}
