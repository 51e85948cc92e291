package e2e_test

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"

	"github.com/drivelab/drivelab/framework/harness"
	"github.com/drivelab/drivelab/framework/placement"
	"github.com/drivelab/drivelab/framework/remote"
	"github.com/drivelab/drivelab/framework/runid"
	"github.com/drivelab/drivelab/framework/shard"
	"github.com/drivelab/drivelab/framework/topology"
	"github.com/drivelab/drivelab/framework/verify"
	"github.com/drivelab/drivelab/scenarios"
)

// hosts are the libvirt hosts of this `make e2e` (E2E_HOSTS): this
// machine alone by default. plan places each selected scenario on one of
// them when there are several.
var (
	hosts []remote.Host
	plan  placement.Plan
)

// hostOf is the host scenario sc runs on.
func hostOf(sc scenarios.Scenario) remote.Host {
	if len(hosts) == 1 {
		return hosts[0]
	}
	name, _ := plan.Host(sc.Name)
	for _, h := range hosts {
		if h.Name == name {
			return h
		}
	}
	return hosts[0]
}

// selected are the scenarios this process runs: the label filter's, of
// this shard, that support the flavor.
func selected() []scenarios.Scenario {
	all := scenarios.All()
	in := make([]bool, len(all))
	for i, sc := range all {
		in[i] = scenarioLabels(sc).MatchesLabelFilter(GinkgoLabelFilter())
	}
	owners := shard.Assign(in, thisShard.Total)
	var out []scenarios.Scenario
	for i, sc := range all {
		if owners[i] == thisShard.Index && sc.Supports(opts.flavor) == nil {
			out = append(out, sc)
		}
	}
	return out
}

// placeScenarios asks every host for its free capacity, before anything
// boots (a host out of reach fails the run here, named), and spreads the
// selected scenarios over them (framework/placement).
func placeScenarios(ctx context.Context) (placement.Plan, error) {
	var (
		mu     sync.Mutex
		caps   []placement.Host
		errs   []string
		probes = map[string]harness.HostProbe{}
	)
	var wg sync.WaitGroup
	for _, h := range hosts {
		wg.Go(func() {
			p, err := harness.ProbeHost(ctx, env, h)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err.Error())
				return
			}
			probes[h.Name] = p
			caps = append(caps, placement.Host{Name: h.Name, Cores: p.Cores, MemoryMiB: p.FreeMemoryMiB, BootingVCPUs: p.BootingVCPUs})
		})
	}
	wg.Wait()
	if len(errs) > 0 {
		return placement.Plan{}, fmt.Errorf("before any boot, %d of %d hosts failed:\n  %s", len(errs), len(hosts), strings.Join(errs, "\n  "))
	}
	var jobs []placement.Job
	for _, sc := range selected() {
		topo, err := topology.Load(scenarioPath(opts.topology, sc.Topology))
		if err != nil {
			return placement.Plan{}, err
		}
		// The caps of the first host's accelerator: TCG caps vCPUs.
		vcpus, mem := probes[hosts[0].Name].Footprint(topo, env.Limits)
		jobs = append(jobs, placement.Job{Name: sc.Name, VCPUs: vcpus, MemoryMiB: mem})
	}
	return placement.Place(jobs, caps)
}

// A launch is a scenario started ahead of its turn, on a host of its own,
// when `make e2e` spreads its scenarios over several hosts: Ginkgo runs the
// containers one after another, so each brings its scenario up, and starts
// its checks, from the suite's start; its container then only collects.
type launch struct {
	done      chan struct{}
	started   time.Time
	runID     runid.ID
	artifacts string
	in        harness.UpInput
	run       *harness.Run
	err       error
	pending   map[string]<-chan []verify.Result
	cancel    context.CancelFunc
	taken     bool
}

var (
	launches                        = map[string]*launch{}
	stopLaunches context.CancelFunc = func() {}
)

// launchAll brings every placed scenario up at once, each on its host.
func launchAll() {
	ctx, cancel := context.WithCancel(context.Background())
	stopLaunches = cancel
	for _, sc := range selected() {
		l := &launch{done: make(chan struct{}), started: time.Now(), runID: runid.New()}
		l.artifacts = artifactsDir(sc, scenariosHere, l.runID)
		launches[sc.Name] = l
		go func() {
			defer close(l.done)
			out := prefixed(GinkgoWriter, "["+sc.Name+"@"+hostOf(sc).Name+"] ")
			l.in, l.run, l.err = begin(ctx, sc, l.runID, l.artifacts, out)
			if l.err != nil {
				// Said now: its container may come after other hosts' scenarios.
				fmt.Fprintf(out, "FAILED to come up after %s: %v\n", time.Since(l.started).Round(time.Second/10), l.err)
			} else {
				policy := harness.CheckPolicy{Reruns: env.Rerun, Quarantine: quarantined.For(sc.Name)}
				l.pending, l.cancel = l.run.StartChecksWith(context.Background(), sc.Checks, policy)
			}
		}()
	}
}

// downLaunches takes down what launched scenarios whose container never
// took them (an interrupted suite) left up.
func downLaunches(ctx context.Context) {
	stopLaunches()
	for name, l := range launches {
		if l.taken {
			continue
		}
		select {
		case <-l.done:
		case <-ctx.Done():
			return
		}
		if l.cancel != nil {
			l.cancel()
		}
		if l.run != nil {
			if err := l.run.Down(ctx); err != nil {
				fmt.Fprintf(GinkgoWriter, "scenario %s: %v\n", name, err)
			}
		}
		if l.in.Platform != nil {
			l.in.Close()
		}
	}
}

// prefixed writes each line to w after prefix.
func prefixed(w io.Writer, prefix string) io.Writer {
	return &prefixWriter{w: w, prefix: prefix, start: true}
}

type prefixWriter struct {
	mu     sync.Mutex
	w      io.Writer
	prefix string
	start  bool
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []byte
	for _, c := range b {
		if p.start {
			out = append(out, p.prefix...)
		}
		out = append(out, c)
		p.start = c == '\n'
	}
	if _, err := p.w.Write(out); err != nil {
		return 0, err
	}
	return len(b), nil
}
