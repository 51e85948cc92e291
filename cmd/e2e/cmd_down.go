package main

import (
	"context"
	"fmt"

	"github.com/drivelab/drivelab/framework/config"
	"github.com/drivelab/drivelab/framework/vm"
)

func init() {
	register(command{
		name:    "down",
		summary: "remove every domain and volume any run left (after a crash or SIGKILL)",
		run: func(ctx context.Context, args []string) error {
			fs := newFlags("down")
			socket := fs.String("libvirt-socket", vm.Socket(), "libvirtd's unix socket (env E2E_LIBVIRT_SOCKET)")
			run := fs.String("run", "", "remove only this run's domains and volumes (default: every run's)")
			if err := fs.Parse(args); err != nil {
				return err
			}
			iv, err := config.DefaultIntervals(config.AccelTCG).WithEnv()
			if err != nil {
				return err
			}
			conn, err := vm.Connect(ctx, *socket)
			if err != nil {
				return err
			}
			defer conn.Disconnect()
			var removed []string
			if *run != "" {
				removed, err = vm.DownRun(ctx, conn, *run, iv.Teardown)
			} else {
				removed, err = vm.DownAll(ctx, conn, iv.Teardown)
			}
			fmt.Printf("down: %s\n", vm.Summary(removed))
			return err
		},
	})
}
