package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/drivelab/drivelab/framework/harness"
	"github.com/drivelab/drivelab/framework/runid"
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
	env, err := settings()
	if err != nil {
		return err
	}
	fs := newFlags("status")
	socket := fs.String("libvirt-socket", env.LibvirtSocket, "libvirtd's unix socket (env E2E_LIBVIRT_SOCKET)")
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	rec, err := harness.LoadCurrent(env.Paths)
	if err != nil && !errors.Is(err, harness.ErrNoLab) {
		return err
	}
	host, err := connectHost(ctx, *socket)
	if err != nil {
		return err
	}
	defer host.Close()
	doms, err := vm.List(host.Conn)
	if err != nil {
		return err
	}
	now := time.Now()
	if rec == nil {
		fmt.Println("no kept lab (boot one with `e2e up`)")
	} else {
		printKept(rec, doms, now)
	}
	runs, err := host.Runs(ctx)
	if err != nil {
		return err
	}
	runs = slices.DeleteFunc(runs, func(r harness.RunOwnership) bool { return rec != nil && r.Run == rec.Run.String() })
	if len(runs) == 0 {
		return nil
	}
	fmt.Println("\nother runs on this host (remove one with `e2e down --run ID`; the next run reaps orphans):")
	for _, r := range runs {
		var nodes []string
		for _, d := range doms {
			if d.Owner.Run == r.Run {
				nodes = append(nodes, d.Owner.Node+" "+harness.StateName(d.State))
			}
		}
		fmt.Printf("  %s (%s, %s): %s\n", r.Run, runAge(r.Run, now), ownership(r), describeRun(r, nodes))
	}
	return nil
}

// connectHost reaches what the runs on the host (E2E_HOSTS, this machine
// by default) share.
func connectHost(ctx context.Context, socket string) (harness.Host, error) {
	env, err := settings()
	if err != nil {
		return harness.Host{}, err
	}
	env.LibvirtSocket = socket
	return harness.OpenHost(ctx, env)
}

// ownership says whether a run is live, kept or orphaned.
func ownership(r harness.RunOwnership) string {
	switch {
	case r.Live:
		return "live, " + r.Owner.String()
	case r.Kept:
		return "kept"
	}
	return "orphaned: " + r.Owner.String() + " is gone"
}

// describeRun lists what a run holds: its guests' share of the host, its nodes, its network.
func describeRun(r harness.RunOwnership, nodes []string) string {
	var parts []string
	if c := r.Claim; c != nil {
		phase := "checking"
		if c.Booting {
			phase = "booting"
		}
		parts = append(parts, fmt.Sprintf("%s, %d vCPUs, %d MiB", phase, c.VCPUs, c.MemoryMiB))
	}
	if len(nodes) > 0 {
		parts = append(parts, strings.Join(nodes, ", "))
	} else {
		parts = append(parts, "no domains")
	}
	if r.Network {
		parts = append(parts, "own network")
	}
	return strings.Join(parts, "; ")
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
			if d.Owner.Run == rec.Run.String() && d.Owner.Node == n.Name {
				state = harness.StateName(d.State)
			}
		}
		fmt.Printf("%-8s %-9s %-15s %-36s %s ago\n", n.Name, state, ips[n.Name], n.UUID, since(n.Booted, now))
	}
}

// runAge reads the start time runid.New puts in a run id.
func runAge(run string, now time.Time) string {
	if t, ok := runid.ID(run).Started(); ok {
		return "up " + since(t, now)
	}
	return "age unknown"
}

func since(t, now time.Time) string {
	return now.Sub(t).Round(time.Second).String()
}
