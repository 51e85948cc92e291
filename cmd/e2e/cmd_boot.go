package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/drivelab/drivelab/framework/harness"
	"github.com/drivelab/drivelab/framework/runid"
	"github.com/drivelab/drivelab/framework/topology"
	"github.com/drivelab/drivelab/framework/vm"
)

func init() {
	register(command{
		name:    "boot",
		summary: "boot the topology's nodes in the lab, wait until ready, tear down (debugging)",
		run:     runBoot,
	})
}

func runBoot(ctx context.Context, args []string) error {
	fs := newFlags("boot")
	topoPath := fs.String("topology", "fixtures/topology.yaml", "topology file")
	nodes := fs.String("nodes", "", "comma-separated node names to boot (default: all)")
	drives := fs.String("drives", "out/drives", "folder holding <node>.iso for every node")
	disk := fs.String("disk", "", "base disk image (qcow2 or raw)")
	kernel := fs.String("kernel", "", "kernel for direct boot (empty: boot the disk)")
	initrd := fs.String("initrd", "", "initrd for direct boot")
	cmdline := fs.String("cmdline", "root=/dev/vda rw console=ttyS0 net.ifnames=0", "kernel command line for direct boot")
	runID := fs.String("run", runid.New().String(), "run id; names every domain, volume and file dl-<run>-<node>")
	artifacts := fs.String("artifacts", "", "folder for consoles and domain XML (default artifacts/<run>)")
	keep := fs.Bool("keep", false, "leave the nodes running once ready (remove them later with `e2e down`)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	t, err := loadTopology(*topoPath)
	if err != nil {
		return err
	}
	if *nodes != "" {
		want := strings.Split(*nodes, ",")
		for _, n := range want {
			if _, ok := t.Node(n); !ok {
				return fmt.Errorf("--nodes: %q is not a node of %s (have %s)", n, *topoPath, strings.Join(t.NodeNames(), ", "))
			}
		}
		t.Nodes = slices.DeleteFunc(t.Nodes, func(n topology.Node) bool { return !slices.Contains(want, n.Name) })
	}
	env, err := settings()
	if err != nil {
		return err
	}
	id, err := runid.Parse(*runID)
	if err != nil {
		return fmt.Errorf("--run: %w", err)
	}
	isos := map[string]string{}
	for _, n := range t.Nodes {
		isos[n.Name] = filepath.Join(*drives, n.Name+".iso")
	}
	up, err := harness.Open(ctx, harness.OpenInput{Settings: env, Run: harness.UpInput{RunID: id, Topology: t, Drives: isos, Progress: os.Stdout}})
	if err != nil {
		return err
	}
	defer up.Close()
	up.Libvirt().Image = vm.Image{Disk: *disk, Kernel: *kernel, Initrd: *initrd, Cmdline: *cmdline}
	up.ArtifactsDir = *artifacts
	l, err := harness.Up(ctx, up)
	if err != nil {
		return err
	}
	fmt.Printf("%-10s %5s %7s %12s %12s %14s\n", "node", "vcpus", "mem", "cloud-init", "ready", "guest uptime")
	for _, n := range l.Boot.Nodes {
		fmt.Printf("%-10s %5d %6dM %11.1fs %11.1fs %13.1fs\n", n.Name, n.VCPUs, n.MemoryMiB, n.CloudInit.Seconds(), n.Ready.Seconds(), n.GuestUptime.Seconds())
	}
	slow := l.Boot.Slowest()
	fmt.Printf("all ready after %.1fs; slowest cloud-init: %s at %.1fs of guest uptime\n", l.Boot.AllReady.Seconds(), slow.Name, slow.GuestUptime.Seconds())
	if *keep {
		fmt.Printf("kept run %s running; remove it with `e2e down`\n", l.ID)
		return l.MarkKept()
	}
	return l.Down(ctx)
}
