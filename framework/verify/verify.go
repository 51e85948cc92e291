// Package verify runs checks against a booted lab and collects a verdict
// per node and check. Checks and the diagnostics that explain their
// failures live in scenarios/; this package only knows how to run them and
// report.
package verify

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/drivelab/drivelab/framework/config"
	"github.com/drivelab/drivelab/framework/sshx"
	"github.com/drivelab/drivelab/framework/topology"
)

// File is one file the drive injected into a node, as rendered.
type File struct {
	// Name is the topology's logical name (hosts, network, ...).
	Name string
	// Path is where cloud-init writes it in the guest.
	Path string
	// Data is the rendered content; nil for package files streamed from disk.
	Data []byte
}

// Env is what checks see: the topology, what the drives carried, and root
// sessions to every node opened through the client node.
type Env struct {
	Topology *topology.Topology
	// Client is the node checks run from (the seed's test2).
	Client topology.Node
	// Files are each node's injected files, in drive order.
	Files map[string][]File
	// Root holds a root session per node; all but the client's go through it.
	Root map[string]*sshx.Client
	// HostKeys are the pinned host keys, by node name.
	HostKeys  map[string]ssh.PublicKey
	Intervals config.Intervals
	// AtOnce bounds how many checks run at the same time (config.ChecksAtOnce);
	// 0: all of them.
	AtOnce int
	// MetadataVersions are, by node, the version folder of its drive
	// (openstack/<version>/ or "latest") the host's cloud-init read when
	// lint checked it: what the guest's must read too. nil when not known.
	MetadataVersions map[string]string
}

// File returns node's injected file with the given logical name.
func (e *Env) File(node, name string) (File, bool) {
	i := slices.IndexFunc(e.Files[node], func(f File) bool { return f.Name == name })
	if i < 0 {
		return File{}, false
	}
	return e.Files[node][i], true
}

// FromClient returns the root session on the client node.
func (e *Env) FromClient() *sshx.Client { return e.Root[e.Client.Name] }

// Via returns the root session of the node the harness reached node
// through and node's address from there (topology.Hops): the client and
// node.IP on one network; on several, the nearest node sharing a network
// with it. The client itself is reached from the client.
func (e *Env) Via(node topology.Node) (*sshx.Client, netip.Addr) {
	if e.Topology != nil {
		if hops, err := e.Topology.Hops(); err == nil {
			if h, ok := hops[node.Name]; ok && h.Via != "" {
				return e.Root[h.Via], h.Addr
			}
		}
	}
	return e.FromClient(), node.IP
}

// LoginWithPassword opens a root session to node with password from the
// node the harness reaches it through (the client, on one network), so the
// login crosses the lab network as the seed's test client would. The same
// connection first offers a wrong password, which node must refuse
// (sshx.JumpWrongThenRight).
func (e *Env) LoginWithPassword(ctx context.Context, node topology.Node, password string) (*sshx.Client, error) {
	via, addr := e.Via(node)
	return via.JumpWrongThenRight(ctx, sshx.Target{
		Name:    node.Name,
		Addr:    netip.AddrPortFrom(addr, 22).String(),
		User:    "root",
		HostKey: e.HostKeys[node.Name],
	}, password)
}

// Func checks one node and returns an error naming expected and actual.
type Func func(ctx context.Context, env *Env, node topology.Node) error

// Check is a named check and the nodes it applies to.
type Check struct {
	Name string
	// Roles limits the check to nodes of these roles; empty means all nodes.
	Roles []string
	Run   Func
	// Disruptive marks a check that stops or changes services every other
	// check would notice (failover stops web servers): it needs a lab of its
	// own and runs alone, the only check of its scenario.
	Disruptive bool
}

// Applies reports whether the check runs on node.
func (c Check) Applies(node topology.Node) bool {
	return len(c.Roles) == 0 || slices.Contains(c.Roles, node.Role)
}

// Diagnostic is evidence a scenario reads from a node after a failure, next
// to what the harness reads from every node (cloud-init's logs, network,
// failed units, journal).
type Diagnostic struct {
	// File is its name under artifacts/<run>/<node>/.
	File string
	// Command is the shell command run as root on node, whose stdout and
	// stderr become File; "" when the node has nothing to give.
	Command func(env *Env, node topology.Node) string
}

// Result is one check on one node.
type Result struct {
	Check, Node string
	Err         error
	Elapsed     time.Duration
	// Attempts are every run of the check on the node, in order, when it
	// ran more than once (a failure run again, harness.CheckPolicy); Err
	// and Elapsed are the last one's. nil when it ran once.
	Attempts []Attempt
	// Quarantine is the entry of the quarantine list (framework/quarantine)
	// that names this check on this node, nil when none does.
	Quarantine *Quarantine
}

// Attempt is one run of a check on one node.
type Attempt struct {
	Err     error
	Elapsed time.Duration
}

// Quarantine lets a known failure of a check through, reported, until a
// date: the run does not fail for it until then.
type Quarantine struct {
	Reason string
	// Until is the last day (YYYY-MM-DD, UTC) the failure is let through.
	Until string
	// Expired says the day has passed: a failure fails the run again.
	Expired bool
	// Where is the entry's file:line.
	Where string
}

// Flaky reports whether the check failed on the node and then passed when
// run again: the run passes, and the reports show the failed attempts.
func (r Result) Flaky() bool { return r.Err == nil && r.FirstFailure() != nil }

// FirstFailure is the error of the first failed attempt, nil when none failed.
func (r Result) FirstFailure() error {
	for _, a := range r.Attempts {
		if a.Err != nil {
			return a.Err
		}
	}
	return r.Err
}

// Quarantined reports whether the result failed and a quarantine that has
// not expired lets the failure through.
func (r Result) Quarantined() bool {
	return r.Err != nil && r.Quarantine != nil && !r.Quarantine.Expired
}

// Failing reports whether the result fails the run: it failed on every
// attempt and no quarantine in force lets it through.
func (r Result) Failing() bool { return r.Err != nil && !r.Quarantined() }

// Failure is the error a failing result fails the run with, naming node
// and check and, when its quarantine expired, that and when; nil when the
// result does not fail the run.
func (r Result) Failure() error {
	if !r.Failing() {
		return nil
	}
	err := fmt.Errorf("%s on %s: %w", r.Check, r.Node, r.Err)
	if q := r.Quarantine; q != nil {
		err = fmt.Errorf("%s on %s: quarantine expired on %s (%s; %s), so it fails the run again: fix the check or extend expires there: %w",
			r.Check, r.Node, q.Until, q.Reason, q.Where, r.Err)
	}
	if n := len(r.Attempts); n > 1 {
		err = fmt.Errorf("%w (failed all %d attempts)", err, n)
	}
	return err
}

// Run runs check on every node it applies to, in parallel. Checks bound
// their own remote commands with env.Intervals.Command.
func Run(ctx context.Context, env *Env, check Check) []Result {
	return runOn(ctx, env, check, nil)
}

// runOn runs check on the nodes it applies to that only names (nil: all).
func runOn(ctx context.Context, env *Env, check Check, only []string) []Result {
	var (
		wg      sync.WaitGroup
		results = make([]Result, len(env.Topology.Nodes))
	)
	for i, node := range env.Topology.Nodes {
		if !check.Applies(node) || (only != nil && !slices.Contains(only, node.Name)) {
			continue
		}
		wg.Go(func() {
			start := time.Now()
			err := check.Run(ctx, env, node)
			results[i] = Result{Check: check.Name, Node: node.Name, Err: err, Elapsed: time.Since(start)}
		})
	}
	wg.Wait()
	return slices.DeleteFunc(results, func(r Result) bool { return r.Node == "" })
}

// Start runs the checks, each on all its nodes, env.AtOnce of them at a time
// in the order given, and returns a channel per check name that yields its
// results. Checks that need exclusive use of a service must not share it
// with another check's traffic (a check that counts the requests a service
// served must be the only one sending it any); the scenario's checks keep
// to that, so they can run together and the verdict follows the boot by
// the slowest checks instead of the sum of all.
func Start(ctx context.Context, env *Env, checks []Check) map[string]<-chan []Result {
	return StartOn(ctx, env, checks, nil)
}

// StartOn is Start with each check run only on the nodes nodes names for
// it (nil: every node it applies to): how failed checks run again on the
// nodes they failed on, no more at once than the first time.
func StartOn(ctx context.Context, env *Env, checks []Check, nodes map[string][]string) map[string]<-chan []Result {
	pending := make(map[string]<-chan []Result, len(checks))
	out := make([]chan []Result, len(checks))
	next := make(chan int, len(checks))
	for i, c := range checks {
		out[i] = make(chan []Result, 1)
		pending[c.Name] = out[i]
		next <- i
	}
	close(next)
	workers := len(checks)
	if env.AtOnce > 0 {
		workers = min(env.AtOnce, workers)
	}
	for range workers {
		go func() {
			for i := range next {
				var only []string
				if nodes != nil {
					only = append([]string{}, nodes[checks[i].Name]...)
				}
				out[i] <- runOn(ctx, env, checks[i], only)
			}
		}()
	}
	return pending
}

// RunAll runs checks together, waits for every one, and returns the node x
// check verdict with all results in check order.
func RunAll(ctx context.Context, env *Env, checks []Check) (*Verdict, []Result) {
	pending := Start(ctx, env, checks)
	verdict := NewVerdict(env.Topology.NodeNames())
	var all []Result
	for _, c := range checks {
		results := <-pending[c.Name]
		verdict.Add(c.Name, results)
		all = append(all, results...)
	}
	return verdict, all
}

// Err joins the failures of results, each prefixed by node and check.
func Err(results []Result) error {
	var errs []error
	for _, r := range results {
		if r.Err != nil {
			errs = append(errs, fmt.Errorf("%s on %s: %w", r.Check, r.Node, r.Err))
		}
	}
	return errors.Join(errs...)
}

// Failures joins the failures of results that fail the run (Result.Failure):
// Err without the quarantined ones.
func Failures(results []Result) error {
	var errs []error
	for _, r := range results {
		errs = append(errs, r.Failure())
	}
	return errors.Join(errs...)
}

// Verdict accumulates results for the node x check table.
type Verdict struct {
	mu      sync.Mutex
	nodes   []string
	checks  []string
	results map[[2]string]Result
}

// NewVerdict prepares a table with one row per node.
func NewVerdict(nodes []string) *Verdict {
	return &Verdict{nodes: nodes, results: map[[2]string]Result{}}
}

// Add records results; a check that never ran shows as "-".
func (v *Verdict) Add(check string, results []Result) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if !slices.Contains(v.checks, check) {
		v.checks = append(v.checks, check)
	}
	for _, r := range results {
		v.results[[2]string{r.Node, check}] = r
	}
}

// Results are the recorded results, check by check in the order added,
// each check's in node order.
func (v *Verdict) Results() []Result {
	v.mu.Lock()
	defer v.mu.Unlock()
	var out []Result
	for _, c := range v.checks {
		for _, n := range v.nodes {
			if r, ok := v.results[[2]string{n, c}]; ok {
				out = append(out, r)
			}
		}
	}
	return out
}

// Nodes are the table's rows, in topology order: every node, also those no
// check applied to.
func (v *Verdict) Nodes() []string { return slices.Clone(v.nodes) }

// Failed reports whether any recorded result fails the run
// (Result.Failing: a quarantined failure does not).
func (v *Verdict) Failed() bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	for _, r := range v.results {
		if r.Failing() {
			return true
		}
	}
	return false
}

// Table renders node rows and check columns: pass, FAIL, FLAKY (failed,
// then passed when run again), QUAR (failed, let through by a quarantine;
// one that expired shows FAIL), or "-" where the check does not apply to
// the node or did not run; a last row gives each check's slowest node
// time, to show where a run spends its time. Notes says more of FLAKY and
// QUAR cells.
func (v *Verdict) Table() string {
	v.mu.Lock()
	defer v.mu.Unlock()
	width := len("node")
	for _, n := range v.nodes {
		width = max(width, len(n))
	}
	var b strings.Builder
	row := func(first string, cell func(check string) string) {
		fmt.Fprintf(&b, "%-*s", width, first)
		for _, c := range v.checks {
			fmt.Fprintf(&b, "  %-*s", max(len(c), 5), cell(c))
		}
		b.WriteString("\n")
	}
	row("node", func(c string) string { return c })
	for _, n := range v.nodes {
		row(n, func(c string) string {
			r, ok := v.results[[2]string{n, c}]
			switch {
			case !ok:
				return "-"
			case r.Quarantined():
				return "QUAR"
			case r.Err != nil:
				return "FAIL"
			case r.Flaky():
				return "FLAKY"
			}
			return "pass"
		})
	}
	row("time", func(c string) string {
		var slowest time.Duration
		for _, n := range v.nodes {
			slowest = max(slowest, v.results[[2]string{n, c}].Elapsed)
		}
		return fmt.Sprintf("%.1fs", slowest.Seconds())
	})
	return b.String()
}

// Notes are the notes of the verdict's results (Notes), in table order.
func (v *Verdict) Notes() string { return Notes(v.Results()) }

// Notes is a line per result the verdict's cells cannot tell in full, so
// that nothing let through goes without a trace: each flaky one with its
// first failure, each quarantined failure with its reason and date, each
// failure that was run again, and each quarantined check that passed
// (its entry may go). "" when there is none.
func Notes(results []Result) string {
	var b strings.Builder
	for _, r := range results {
		first := func() string {
			msg, _, _ := strings.Cut(r.FirstFailure().Error(), "\n")
			return msg
		}
		q := r.Quarantine
		switch {
		case r.Flaky():
			fmt.Fprintf(&b, "FLAKY %s on %s: failed, then passed on attempt %d; first failure: %s\n", r.Check, r.Node, len(r.Attempts), first())
		case r.Quarantined():
			fmt.Fprintf(&b, "QUAR  %s on %s: quarantined until %s (%s; %s), failed: %s\n", r.Check, r.Node, q.Until, q.Reason, q.Where, first())
		case r.Err != nil && q != nil:
			fmt.Fprintf(&b, "FAIL  %s on %s: quarantine expired on %s (%s; %s)\n", r.Check, r.Node, q.Until, q.Reason, q.Where)
		case r.Err != nil && len(r.Attempts) > 1:
			fmt.Fprintf(&b, "FAIL  %s on %s: failed all %d attempts; first failure: %s\n", r.Check, r.Node, len(r.Attempts), first())
		case q != nil:
			fmt.Fprintf(&b, "note  %s on %s: quarantined until %s (%s) but passed; remove the entry at %s once it stays green\n", r.Check, r.Node, q.Until, q.Reason, q.Where)
		}
	}
	return b.String()
}
