// Package drill puts one fault into a real boot of a topology (a kernel
// panic, an emergency shell, QEMU killed, libvirtd restarted, user_data
// failing) and judges how the run reported it: the right cause, on the
// right node, within config.FaultToVerdict of the fault, and nothing left
// behind. `e2e drill` (make drills) runs the list it is given.
package drill

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/drivelab/drivelab/framework/config"
	"github.com/drivelab/drivelab/framework/harness"
	"github.com/drivelab/drivelab/framework/lab"
	"github.com/drivelab/drivelab/framework/runid"
	"github.com/drivelab/drivelab/framework/vm"
	"github.com/drivelab/drivelab/framework/wait"
)

// Drill is one fault put into a real boot of the topology.
type Drill struct {
	Name, Node string
	// KernelArgs and Overlay break the node before it boots.
	KernelArgs, Overlay string
	// At is the console line after which Inject runs; nil: no injection.
	At     *regexp.Regexp
	Inject func(ctx context.Context, e Env) error
	// FaultLine is the console line that is the fault itself, when the
	// guest shows it; the time to verdict counts from its appearance.
	FaultLine *regexp.Regexp
	// Cause is what the boot's error must say.
	Cause string
	// HostWide: the fault strikes every node at once (libvirtd goes away),
	// so whichever node's watch sees it first may report it; Node is only
	// where the drill waits for its moment.
	HostWide bool
}

// Env is where a fault is injected.
type Env struct {
	Lab  lab.Config
	Run  runid.ID
	Node string
}

// Result is how a drill's fault was reported.
type Result struct {
	Drill          Drill
	Err            error
	CaughtBy       string
	FaultToVerdict time.Duration
	FaultSeen      bool
	Leftovers      []string
	Problems       []string
}

func (r Result) OK() bool { return len(r.Problems) == 0 && len(r.Leftovers) == 0 }

func (r Result) Verdict() string {
	if r.OK() {
		return "pass"
	}
	return "FAIL: " + strings.Join(r.Problems, "; ")
}

func (r Result) Summary() string {
	first, _, _ := strings.Cut(fmt.Sprint(r.Err), "\n")
	return fmt.Sprintf("%s in %.1fs after the fault (%s)", r.Verdict(), r.FaultToVerdict.Seconds(), first)
}

// Table writes the results, a row each.
func Table(w io.Writer, rows []Result) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "\ndrill\tnode\tcaught by\tfault -> verdict\tleftovers\tresult")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%.1fs\t%s\t%s\n", r.Drill.Name, r.Drill.Node, r.CaughtBy, r.FaultToVerdict.Seconds(), orNone(strings.Join(r.Leftovers, ", ")), r.Verdict())
	}
	tw.Flush()
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// Run boots the topology with one fault and judges how it was reported.
func Run(ctx context.Context, d Drill, up harness.UpInput) Result {
	r := Result{Drill: d}
	up.RunID = runid.New()
	up.KernelArgs = map[string]string{d.Node: d.KernelArgs}
	artifacts := up.RunID.ArtifactsDir(up.Paths.Artifacts)
	console := up.RunID.ConsoleLog(artifacts, d.Node)
	tmpBefore := tempEntries()

	watchCtx, stopWatch := context.WithCancel(ctx)
	faultAt := make(chan time.Time, 1)
	go watch(watchCtx, d, Env{Lab: up.Libvirt().Lab, Run: up.RunID, Node: d.Node}, console, faultAt)
	l, err := harness.Up(ctx, up)
	verdictAt := time.Now()
	stopWatch()
	if err == nil {
		r.Problems = append(r.Problems, "the boot succeeded")
		l.Down(ctx)
	}
	r.Err = err
	select {
	case t := <-faultAt:
		r.FaultSeen, r.FaultToVerdict = true, verdictAt.Sub(t)
	default:
		// The boot read the fault line before the drill's own look did:
		// the verdict came within a poll of it.
		if text, _ := os.ReadFile(console); d.FaultLine != nil && d.FaultLine.Match(text) {
			r.FaultSeen = true
		} else {
			r.Problems = append(r.Problems, "the fault never happened")
		}
	}
	caughtBy, problem := judge(d, err)
	r.CaughtBy = caughtBy
	if problem != "" {
		r.Problems = append(r.Problems, problem)
	}
	if r.FaultSeen && r.FaultToVerdict > config.FaultToVerdict {
		r.Problems = append(r.Problems, fmt.Sprintf("verdict %.0fs after the fault, want at most %s", r.FaultToVerdict.Seconds(), config.FaultToVerdict))
	}
	left, lerr := up.Libvirt().Host().Leftovers(ctx, up.RunID.String())
	if lerr != nil {
		r.Problems = append(r.Problems, "listing leftovers: "+lerr.Error())
	}
	r.Leftovers = left
	for _, e := range tempEntries() {
		if !slices.Contains(tmpBefore, e) {
			r.Leftovers = append(r.Leftovers, "temporary file "+e)
		}
	}
	// Half-written files (atomicfile's and configdrive's temporaries) start with a dot.
	if entries, err := os.ReadDir(artifacts); err == nil {
		for _, e := range entries {
			if strings.HasPrefix(e.Name(), ".") {
				r.Leftovers = append(r.Leftovers, "temporary file "+e.Name())
			}
		}
	}
	for _, n := range up.Topology.Nodes {
		if _, err := os.Stat(up.RunID.ConsoleLog(artifacts, n.Name)); err != nil {
			r.Problems = append(r.Problems, "console of "+n.Name+" not kept")
		}
	}
	return r
}

// judge says what caught the drill's fault from the boot's error, or what
// is wrong with how it was reported: the cause must be d.Cause, on d.Node
// unless the fault is host-wide.
func judge(d Drill, err error) (caughtBy, problem string) {
	var boot *vm.BootError
	switch {
	case err == nil:
		return "", ""
	case !strings.Contains(err.Error(), d.Cause):
		return "", fmt.Sprintf("wrong cause: want %q", d.Cause)
	case errors.As(err, &boot) && boot.Node != d.Node && !d.HostWide:
		return "", fmt.Sprintf("blamed node %s, want %s", boot.Node, d.Node)
	}
	if i := strings.Index(d.Cause, "("); i > 0 {
		return strings.TrimSuffix(d.Cause[i+1:], ")"), ""
	}
	return d.Cause, ""
}

// watch follows the node's console: it injects the fault once the
// console shows d.At, and reports when the fault happened. It ends with
// ctx, the boot's verdict.
func watch(ctx context.Context, d Drill, e Env, console string, faultAt chan<- time.Time) {
	err := wait.Until(ctx, wait.Input{What: "drill " + d.Name + "'s moment on " + e.Node, Interval: config.DrillWatch},
		func(ctx context.Context) (bool, string, error) {
			text, _ := os.ReadFile(console)
			switch {
			case d.FaultLine != nil && d.FaultLine.Match(text):
				faultAt <- time.Now()
				return true, "", nil
			case d.Inject != nil && d.At.Match(text):
				t := time.Now()
				if err := d.Inject(ctx, e); err != nil {
					return false, "", fmt.Errorf("drill %s: injecting the fault: %w", d.Name, err)
				}
				faultAt <- t
				return true, "", nil
			}
			return false, fmt.Sprintf("%d bytes of console", len(text)), nil
		})
	if err != nil && ctx.Err() == nil {
		fmt.Fprintln(os.Stderr, err)
	}
}

// KillQEMU kills the node's QEMU process as the kernel's OOM killer or a
// crash would: SIGKILL, no shutdown.
func KillQEMU(_ context.Context, e Env) error {
	pidFile := filepath.Join("/run/libvirt/qemu", e.Run.Domain(e.Node)+".pid")
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

func RestartLibvirtd(ctx context.Context, e Env) error {
	return lab.RestartLibvirtd(ctx, e.Lab)
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
