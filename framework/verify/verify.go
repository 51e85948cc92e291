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
}

// Run runs check on every node it applies to, in parallel. Checks bound
// their own remote commands with env.Intervals.Command.
func Run(ctx context.Context, env *Env, check Check) []Result {
	var (
		wg      sync.WaitGroup
		results = make([]Result, len(env.Topology.Nodes))
	)
	for i, node := range env.Topology.Nodes {
		if !check.Applies(node) {
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
				out[i] <- Run(ctx, env, checks[i])
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

// Failed reports whether any recorded result failed.
func (v *Verdict) Failed() bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	for _, r := range v.results {
		if r.Err != nil {
			return true
		}
	}
	return false
}

// Table renders node rows and check columns: pass, FAIL, or "-" where the
// check does not apply to the node or did not run; a last row gives each
// check's slowest node time, to show where a run spends its time.
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
			case r.Err != nil:
				return "FAIL"
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
