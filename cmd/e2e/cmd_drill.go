package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/drivelab/drivelab/framework/drill"
	"github.com/drivelab/drivelab/framework/harness"
	"github.com/drivelab/drivelab/framework/topology"
	"github.com/drivelab/drivelab/framework/vm"
)

func init() {
	register(command{
		name:    "drill",
		summary: "fault drills: break a booting guest (panic, emergency shell, QEMU killed, libvirtd restarted, user_data failing) and demand the right verdict within 30s",
		run:     runDrills,
	})
}

var drills = []drill.Drill{
	{Name: "kernel-panic", Node: "web01", KernelArgs: "rdinit=/drivelab-missing-init",
		FaultLine: regexp.MustCompile(`Kernel panic - not syncing`), Cause: "guest fault (kernel panic)"},
	{Name: "emergency-shell", Node: "haproxy", KernelArgs: "systemd.unit=emergency.target",
		FaultLine: regexp.MustCompile(`emergency mode|root account is locked`), Cause: "guest fault (emergency shell)"},
	{Name: "qemu-killed", Node: "web02", At: vm.GateOpenRE, Inject: drill.KillQEMU,
		Cause: "dead: its domain stopped (shut off: QEMU crashed or was killed)"},
	{Name: "libvirtd-restarted", Node: "test2", At: vm.GateOpenRE, Inject: drill.RestartLibvirtd,
		Cause: "lost the connection to libvirtd", HostWide: true},
	{Name: "user-data-fails", Node: "test2", Overlay: "fixtures/drills/user-data-fails",
		FaultLine: regexp.MustCompile(`Failed running /var/lib/cloud/instance/scripts/|Failed to run module scripts[-_]user`), Cause: "guest fault (user_data failed)"},
}

func runDrills(ctx context.Context, args []string) error {
	env, err := settings()
	if err != nil {
		return err
	}
	fs := newFlags("drill")
	only := fs.String("only", "", "comma-separated drills to run (default: all): "+drillNames())
	topoPath := fs.String("topology", "fixtures/topology.yaml", "topology to boot")
	templates := fs.String("templates", "fixtures/templates", "folder holding one folder per flavor")
	flavor := fs.String("flavor", "debian12", "template flavor")
	artifacts := fs.String("artifacts", filepath.Join(env.Paths.Artifacts, "drills-"+time.Now().Format("20060102-150405")),
		"folder for each drill's consoles (<drill>/<run>/)")
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	picked := drills
	if *only != "" {
		picked = nil
		for _, name := range strings.Split(*only, ",") {
			i := slices.IndexFunc(drills, func(d drill.Drill) bool { return d.Name == name })
			if i < 0 {
				return fmt.Errorf("--only: no drill %q (have %s)", name, drillNames())
			}
			picked = append(picked, drills[i])
		}
	}
	topo, err := topology.Load(*topoPath)
	if err != nil {
		return err
	}
	rules, err := lintRules(defaultScenario)
	if err != nil {
		return err
	}
	var rows []drill.Result
	for _, d := range picked {
		up := harness.UpInput{Topology: topo, TemplatesDir: *templates, Flavor: *flavor, Overlay: d.Overlay, LintRules: rules}
		if err := bootInput(ctx, env, &up, "", filepath.Join(*artifacts, d.Name)); err != nil {
			return err
		}
		r := drill.Run(ctx, d, up)
		up.Close()
		rows = append(rows, r)
		fmt.Printf("drill %s: %s\n", d.Name, r.Summary())
		if ctx.Err() != nil {
			break
		}
	}
	drill.Table(os.Stdout, rows)
	failed := 0
	for _, r := range rows {
		if !r.OK() {
			failed++
		}
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d drills were not reported right", failed, len(rows))
	}
	return nil
}

func drillNames() string {
	var names []string
	for _, d := range drills {
		names = append(names, d.Name)
	}
	return strings.Join(names, ", ")
}
