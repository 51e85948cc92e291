package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/drivelab/drivelab/framework/harness"
	"github.com/drivelab/drivelab/framework/lab"
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

// drill is one fault put into a real boot of the topology.
type drill struct {
	name, node string
	// kernelArgs and overlay break the node before it boots.
	kernelArgs, overlay string
	// at is the console line after which inject runs; nil: no injection.
	at     *regexp.Regexp
	inject func(ctx context.Context, e drillEnv) error
	// faultLine is the console line that is the fault itself, when the
	// guest shows it; the time to verdict counts from its appearance.
	faultLine *regexp.Regexp
	// cause is what the boot's error must say.
	cause string
	// hostWide: the fault strikes every node at once (libvirtd goes away),
	// so whichever node's watch sees it first may report it; node is only
	// where the drill waits for its moment.
	hostWide bool
}

type drillEnv struct {
	lab  lab.Config
	run  string
	node string
}

// maxFaultToVerdict is what every drill must meet.
const maxFaultToVerdict = 30 * time.Second

var drills = []drill{
	{name: "kernel-panic", node: "web01", kernelArgs: "rdinit=/drivelab-missing-init",
		faultLine: regexp.MustCompile(`Kernel panic - not syncing`), cause: "guest fault (kernel panic)"},
	{name: "emergency-shell", node: "haproxy", kernelArgs: "systemd.unit=emergency.target",
		faultLine: regexp.MustCompile(`emergency mode|root account is locked`), cause: "guest fault (emergency shell)"},
	{name: "qemu-killed", node: "web02", at: vm.GateOpenRE, inject: killQEMU,
		cause: "dead: its domain stopped (shut off: QEMU crashed or was killed)"},
	{name: "libvirtd-restarted", node: "test2", at: vm.GateOpenRE, inject: restartLibvirtd,
		cause: "lost the connection to libvirtd", hostWide: true},
	{name: "user-data-fails", node: "test2", overlay: "fixtures/drills/user-data-fails",
		faultLine: regexp.MustCompile(`Failed running /var/lib/cloud/instance/scripts/|Failed to run module scripts[-_]user`), cause: "guest fault (user_data failed)"},
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
			i := slices.IndexFunc(drills, func(d drill) bool { return d.name == name })
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
	var rows []drillResult
	for _, d := range picked {
		up := harness.UpInput{Topology: topo, TemplatesDir: *templates, Flavor: *flavor, Overlay: d.overlay, LintRules: rules}
		if err := bootInput(ctx, env, &up, "", filepath.Join(*artifacts, d.name)); err != nil {
			return err
		}
		r := runDrill(ctx, d, up)
		up.Conn.Disconnect()
		rows = append(rows, r)
		fmt.Printf("drill %s: %s\n", d.name, r.summary())
		if ctx.Err() != nil {
			break
		}
	}
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "\ndrill\tnode\tcaught by\tfault -> verdict\tleftovers\tresult")
	failed := 0
	for _, r := range rows {
		fmt.Fprintf(w, "%s\t%s\t%s\t%.1fs\t%s\t%s\n", r.drill.name, r.drill.node, r.caughtBy, r.faultToVerdict.Seconds(), orNone(strings.Join(r.leftovers, ", ")), r.verdict())
		if !r.ok() {
			failed++
		}
	}
	w.Flush()
	if failed > 0 {
		return fmt.Errorf("%d of %d drills were not reported right", failed, len(rows))
	}
	return nil
}

type drillResult struct {
	drill          drill
	err            error
	caughtBy       string
	faultToVerdict time.Duration
	faultSeen      bool
	leftovers      []string
	problems       []string
}

func (r drillResult) ok() bool { return len(r.problems) == 0 && len(r.leftovers) == 0 }

func (r drillResult) verdict() string {
	if r.ok() {
		return "pass"
	}
	return "FAIL: " + strings.Join(r.problems, "; ")
}

func (r drillResult) summary() string {
	first, _, _ := strings.Cut(fmt.Sprint(r.err), "\n")
	return fmt.Sprintf("%s in %.1fs after the fault (%s)", r.verdict(), r.faultToVerdict.Seconds(), first)
}

// runDrill boots the topology with one fault and judges how it was reported.
func runDrill(ctx context.Context, d drill, up harness.UpInput) drillResult {
	r := drillResult{drill: d}
	up.RunID = vm.NewRunID()
	up.KernelArgs = map[string]string{d.node: d.kernelArgs}
	console := filepath.Join(up.Paths.Artifacts, up.RunID, vm.DomainName(up.RunID, d.node)+".console.log")
	tmpBefore := tempEntries()

	watchCtx, stopWatch := context.WithCancel(ctx)
	faultAt := make(chan time.Time, 1)
	go watchDrill(watchCtx, d, drillEnv{lab: up.Lab, run: up.RunID, node: d.node}, console, faultAt)
	l, err := harness.Up(ctx, up)
	verdictAt := time.Now()
	stopWatch()
	if err == nil {
		r.problems = append(r.problems, "the boot succeeded")
		l.Down(ctx)
	}
	r.err = err
	select {
	case t := <-faultAt:
		r.faultSeen, r.faultToVerdict = true, verdictAt.Sub(t)
	default:
		// The boot read the fault line before the drill's own look did:
		// the verdict came within a poll of it.
		if text, _ := os.ReadFile(console); d.faultLine != nil && d.faultLine.Match(text) {
			r.faultSeen = true
		} else {
			r.problems = append(r.problems, "the fault never happened")
		}
	}
	var boot *vm.BootError
	switch {
	case err == nil:
	case !strings.Contains(err.Error(), d.cause):
		r.problems = append(r.problems, fmt.Sprintf("wrong cause: want %q", d.cause))
	case errors.As(err, &boot) && boot.Node != d.node && !d.hostWide:
		r.problems = append(r.problems, fmt.Sprintf("blamed node %s, want %s", boot.Node, d.node))
	default:
		r.caughtBy = d.cause
		if i := strings.Index(d.cause, "("); i > 0 {
			r.caughtBy = strings.TrimSuffix(d.cause[i+1:], ")")
		}
	}
	if r.faultSeen && r.faultToVerdict > maxFaultToVerdict {
		r.problems = append(r.problems, fmt.Sprintf("verdict %.0fs after the fault, want at most %s", r.faultToVerdict.Seconds(), maxFaultToVerdict))
	}
	left, lerr := up.Host().Leftovers(ctx, up.RunID)
	if lerr != nil {
		r.problems = append(r.problems, "listing leftovers: "+lerr.Error())
	}
	r.leftovers = left
	for _, e := range tempEntries() {
		if !slices.Contains(tmpBefore, e) {
			r.leftovers = append(r.leftovers, "temporary file "+e)
		}
	}
	// Half-written files (atomicfile's and configdrive's temporaries) start with a dot.
	if entries, err := os.ReadDir(filepath.Join(up.Paths.Artifacts, up.RunID)); err == nil {
		for _, e := range entries {
			if strings.HasPrefix(e.Name(), ".") {
				r.leftovers = append(r.leftovers, "temporary file "+e.Name())
			}
		}
	}
	for _, n := range up.Topology.Nodes {
		if _, err := os.Stat(filepath.Join(up.Paths.Artifacts, up.RunID, vm.DomainName(up.RunID, n.Name)+".console.log")); err != nil {
			r.problems = append(r.problems, "console of "+n.Name+" not kept")
		}
	}
	return r
}

// watchDrill follows the node's console: it injects the fault once the
// console shows d.at, and reports when the fault happened.
func watchDrill(ctx context.Context, d drill, e drillEnv, console string, faultAt chan<- time.Time) {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	injected := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		text, _ := os.ReadFile(console)
		switch {
		case d.faultLine != nil && d.faultLine.Match(text):
			faultAt <- time.Now()
			return
		case d.inject != nil && !injected && d.at.Match(text):
			injected = true
			t := time.Now()
			if err := d.inject(ctx, e); err != nil {
				fmt.Fprintf(os.Stderr, "drill %s: injecting the fault: %v\n", d.name, err)
				return
			}
			faultAt <- t
			return
		}
	}
}

// killQEMU kills the node's QEMU process as the kernel's OOM killer or a
// crash would: SIGKILL, no shutdown.
func killQEMU(_ context.Context, e drillEnv) error {
	pidFile := filepath.Join("/run/libvirt/qemu", vm.DomainName(e.run, e.node)+".pid")
	b, err := os.ReadFile(pidFile)
	if err != nil {
		return err
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return fmt.Errorf("%s: %w", pidFile, err)
	}
	return syscall.Kill(pid, syscall.SIGKILL)
}

func restartLibvirtd(ctx context.Context, e drillEnv) error {
	return lab.RestartLibvirtd(ctx, e.lab)
}

// tempEntries lists the harness's files in the system temporary folder
// (drivelab-*), to find what a drill left; other programs' files come and go.
func tempEntries() []string {
	entries, _ := os.ReadDir(os.TempDir())
	var names []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "drivelab") {
			names = append(names, e.Name())
		}
	}
	return names
}

func drillNames() string {
	var names []string
	for _, d := range drills {
		names = append(names, d.name)
	}
	return strings.Join(names, ", ")
}
