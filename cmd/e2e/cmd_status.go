package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/drivelab/drivelab/framework/config"
	"github.com/drivelab/drivelab/framework/harness"
	"github.com/drivelab/drivelab/framework/topology"
	"github.com/drivelab/drivelab/framework/vm"
)

func init() {
	register(command{
		name:    "status",
		summary: "the kept lab's nodes, libvirt states, IPs and age, and any other harness runs libvirt holds",
		run:     runStatus,
	})
}

func runStatus(ctx context.Context, args []string) error {
	fs := newFlags("status")
	socket := fs.String("libvirt-socket", vm.Socket(), "libvirtd's unix socket (env E2E_LIBVIRT_SOCKET)")
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	paths := config.DefaultPaths()
	rec, err := harness.LoadCurrent(paths)
	if err != nil && !errors.Is(err, harness.ErrNoLab) {
		return err
	}
	conn, err := vm.Connect(ctx, *socket)
	if err != nil {
		return err
	}
	defer conn.Disconnect()
	doms, err := vm.List(conn)
	if err != nil {
		return err
	}
	now := time.Now()
	if rec == nil {
		fmt.Println("no kept lab (boot one with `e2e up`)")
	} else {
		printKept(rec, doms, now)
	}
	others := map[string][]string{}
	var runs []string
	for _, d := range doms {
		if rec != nil && d.Owner.Run == rec.Run {
			continue
		}
		if _, ok := others[d.Owner.Run]; !ok {
			runs = append(runs, d.Owner.Run)
		}
		others[d.Owner.Run] = append(others[d.Owner.Run], d.Owner.Node+" "+harness.StateName(d.State))
	}
	if len(runs) > 0 {
		owners, err := harness.Runs(conn, paths)
		if err != nil {
			return err
		}
		fmt.Println("\nother harness runs in libvirt (remove one with `e2e down --run ID`; the next run reaps orphans):")
		for _, run := range runs {
			fmt.Printf("  %s (%s, %s): %s\n", run, runAge(run, now), ownership(owners, run), strings.Join(others[run], ", "))
		}
	}
	return nil
}

// ownership says whether a run is live, kept or orphaned.
func ownership(owners []harness.RunOwnership, run string) string {
	i := slices.IndexFunc(owners, func(o harness.RunOwnership) bool { return o.Run == run })
	switch {
	case i < 0:
		return "gone"
	case owners[i].Live:
		return "live, " + owners[i].Owner.String()
	case owners[i].Kept:
		return "kept"
	}
	return "orphaned: " + owners[i].Owner.String() + " is gone"
}

func printKept(rec *harness.Record, doms []vm.DomainInfo, now time.Time) {
	fmt.Printf("kept lab %s: scenario %s, flavor %s, ready %s (since %s), last `e2e up` %s ago\n",
		rec.Run, rec.Scenario, rec.Flavor, since(rec.Created, now), rec.Created.Local().Format(time.DateTime), since(rec.Updated, now))
	fmt.Printf("  topology %s, templates %s, overlay %s\n  artifacts %s\n", rec.Topology, rec.Templates, orNone(rec.Overlay), rec.Artifacts)
	ips := map[string]string{}
	if t, err := topology.Load(rec.Topology); err == nil {
		for _, n := range t.Nodes {
			ips[n.Name] = n.IP.String()
		}
	} else {
		fmt.Printf("  (topology: %v)\n", err)
	}
	fmt.Printf("\n%-8s %-9s %-15s %-36s %s\n", "node", "state", "ip", "instance uuid", "ready")
	for _, n := range rec.Nodes {
		state := "missing"
		for _, d := range doms {
			if d.Owner.Run == rec.Run && d.Owner.Node == n.Name {
				state = harness.StateName(d.State)
			}
		}
		fmt.Printf("%-8s %-9s %-15s %-36s %s ago\n", n.Name, state, ips[n.Name], n.UUID, since(n.Booted, now))
	}
}

// runAge reads the start time NewRunID puts in a run id.
func runAge(run string, now time.Time) string {
	if len(run) >= 15 {
		if t, err := time.Parse("20060102-150405", run[:15]); err == nil {
			return "up " + since(t, now)
		}
	}
	return "age unknown"
}

func since(t, now time.Time) string {
	return now.Sub(t).Round(time.Second).String()
}
