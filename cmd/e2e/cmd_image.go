package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/drivelab/drivelab/framework/config"
	"github.com/drivelab/drivelab/framework/harness"
	"github.com/drivelab/drivelab/framework/image"
	"github.com/drivelab/drivelab/framework/lockfile"
	"github.com/drivelab/drivelab/scenarios"
)

func init() {
	register(command{
		name:    "image build",
		summary: "build (or find cached) the debian12 guest image and its package bundles",
		run:     runImageBuild,
	})
}

func runImageBuild(ctx context.Context, args []string) error {
	env, err := settings()
	if err != nil {
		return err
	}
	fs := newFlags("image build")
	cache := fs.String("cache", env.Paths.Cache, "cache directory (env E2E_CACHE_DIR)")
	mirror := fs.String("mirror", "", "apt mirror URL (or a \"deb ...\" line) instead of the host's apt sources")
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	start := time.Now()
	a, err := image.Lookup(*cache)
	hit := err == nil
	if !hit {
		// Two runs started at once on a fresh cache build it once.
		unlock, err := lockfile.Lock(ctx, filepath.Join(*cache, ".build.lock"), func() {
			fmt.Fprintf(os.Stderr, "image: waiting for another build into %s\n", *cache)
		})
		if err != nil {
			return err
		}
		defer unlock()
		if a, err = image.Lookup(*cache); err == nil {
			hit = true
		}
	}
	if !hit {
		a, err = image.Build(ctx, image.BuildInput{CacheDir: *cache, Mirror: *mirror, Intervals: env.Intervals(config.AccelTCG), Log: os.Stderr})
		if err != nil {
			return err
		}
	}
	state := "cache hit"
	if !hit {
		state = "built in " + time.Since(start).Round(time.Second).String()
	}
	fmt.Printf("image:     debian12 recipe %.12s, %s\n", a.RecipeHash, state)
	fmt.Printf("disk:      %s\n", a.Disk)
	fmt.Printf("kernel:    %s\n", a.Kernel)
	fmt.Printf("initrd:    %s\n", a.Initrd)
	fmt.Printf("cmdline:   %s\n", a.Cmdline)
	bundles, err := image.Bundles()
	if err != nil {
		return err
	}
	fmt.Printf("packages:  %s (%s)\n", a.PackageDir, strings.Join(bundles, ", "))
	fmt.Printf("manifest:  %s\n", a.Manifest)
	return nil
}

func init() {
	register(command{
		name:    "image snapshots",
		summary: "make (or find cached) the memory snapshots every scenario's nodes restore from under TCG, so no run pays for them",
		run:     runImageSnapshots,
	})
}

func runImageSnapshots(ctx context.Context, args []string) error {
	env, err := settings()
	if err != nil {
		return err
	}
	fs := newFlags("image snapshots")
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	if local, err := harness.UsesThisMachine(env); err != nil || !local {
		if err == nil {
			fmt.Println("snapshots: none needed: the hosts (E2E_HOSTS) are remote, and nodes boot cold there")
		}
		return err
	}
	for _, s := range scenarios.All() {
		if err := snapshotsFor(ctx, env, s); err != nil {
			return fmt.Errorf("scenario %s: %w", s.Name, err)
		}
	}
	return nil
}

// snapshotsFor makes the snapshots scenario s's nodes restore from.
func snapshotsFor(ctx context.Context, env config.Settings, s scenarios.Scenario) error {
	topo, err := loadTopology(s.Topology)
	if err != nil {
		return err
	}
	up, err := harness.Open(ctx, harness.OpenInput{Settings: env, Guest: &harness.GuestInput{CacheDir: env.Paths.Cache},
		Run: harness.UpInput{Topology: topo}, Host: &harness.ThisMachine})
	if err != nil {
		return err
	}
	defer up.Close()
	p := up.Libvirt()
	if p.Start != config.BootSnapshot {
		fmt.Printf("snapshots: %s: none needed: nodes boot %s under %s (E2E_BOOT)\n", s.Name, p.Start, p.Accel)
		return nil
	}
	dirs, err := p.MakeSnapshots(ctx, topo, os.Stdout)
	if err != nil {
		return err
	}
	fmt.Printf("snapshots: %s: %s\n", s.Name, strings.Join(dirs, ", "))
	return nil
}
