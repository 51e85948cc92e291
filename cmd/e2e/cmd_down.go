package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/drivelab/drivelab/framework/config"
	"github.com/drivelab/drivelab/framework/harness"
	"github.com/drivelab/drivelab/framework/runid"
	"github.com/drivelab/drivelab/framework/vm"
)

func init() {
	register(command{
		name:    "down",
		summary: "remove every domain and volume any run left (after a crash or SIGKILL), and the kept lab's state",
		run: func(ctx context.Context, args []string) error {
			env, err := settings()
			if err != nil {
				return err
			}
			fs := newFlags("down")
			socket := fs.String("libvirt-socket", env.LibvirtSocket, "libvirtd's unix socket (env E2E_LIBVIRT_SOCKET)")
			run := fs.String("run", "", "remove only this run's domains and volumes (default: every run's)")
			if err := parseFlags(fs, args); err != nil {
				return err
			}
			iv := env.Intervals(config.AccelTCG)
			host, err := connectHost(ctx, *socket)
			if err != nil {
				return err
			}
			defer host.Close()
			var removed []string
			if *run != "" {
				removed, err = host.RemoveRun(ctx, *run, iv.Teardown)
			} else {
				removed, err = host.RemoveAll(ctx, iv.Teardown)
			}
			fmt.Printf("down: %s\n", vm.Summary(removed))
			if err != nil {
				return err
			}
			return forgetState(env.Paths, runid.ID(*run))
		},
	})
}

// forgetState removes the state (keys, drives, record) of the run just
// taken down, and the kept-lab pointer when it named that run: with no
// --run, every run went, so the kept lab did too.
func forgetState(paths config.Paths, run runid.ID) error {
	if run == "" {
		cur, err := harness.CurrentRun(paths)
		if errors.Is(err, harness.ErrNoLab) {
			return nil
		}
		if err != nil {
			return err
		}
		run = cur
	}
	if _, err := os.Stat(harness.RunDir(paths, run)); os.IsNotExist(err) {
		return harness.Forget(paths, run)
	}
	if err := harness.Forget(paths, run); err != nil {
		return err
	}
	fmt.Printf("down: removed the state of run %s (%s)\n", run, harness.RunDir(paths, run))
	return nil
}
