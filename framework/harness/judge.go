package harness

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/drivelab/drivelab/framework/config"
	"github.com/drivelab/drivelab/framework/quarantine"
	"github.com/drivelab/drivelab/framework/verify"
)

// CheckPolicy is how a run judges its checks beyond one pass over them:
// failures run again to tell a flaky check from a broken one, and known
// failures are let through, reported, until their quarantine expires.
type CheckPolicy struct {
	// Reruns is how many more times a check that failed on a node runs on
	// that node, once the first pass over all checks has ended (E2E_RERUN);
	// it stops at the first pass. A check that passes so is flaky: the run
	// passes and the reports keep every failed attempt. 0: no reruns.
	Reruns int
	// Quarantine are the scenario's entries of the quarantine list
	// (quarantine.List.For).
	Quarantine []quarantine.Entry
	// Now is the clock that says whether an entry has expired; nil: time.Now.
	Now func() time.Time
}

// Budget bounds the whole check run under the policy: the check budget
// for the first pass and for each rerun.
func (p CheckPolicy) Budget(iv config.Intervals) time.Duration {
	return time.Duration(1+max(p.Reruns, 0)) * iv.CheckBudget()
}

// judged is results with the quarantine applied, as of now.
func (p CheckPolicy) judged(results []verify.Result) []verify.Result {
	now := time.Now
	if p.Now != nil {
		now = p.Now
	}
	return quarantine.Apply(p.Quarantine, results, now())
}

// StartChecksWith starts checks together as StartChecks does and judges
// them by p; each channel yields one check's judged results. A check that
// passed everywhere yields as soon as it is done. A failed one waits for
// the first pass over all checks to end (a rerun beside checks still in
// their first pass could disturb them), then runs again on the nodes it
// failed on, up to p.Reruns times, each pass bounded by the check budget.
func (r *Run) StartChecksWith(ctx context.Context, checks []verify.Check, p CheckPolicy) (map[string]<-chan []verify.Result, context.CancelFunc) {
	ctx, cancel := context.WithCancel(ctx)
	budget := r.in.Intervals.CheckBudget()
	firstCtx, firstCancel := context.WithTimeout(ctx, budget)
	first := verify.Start(firstCtx, r.Env, checks)
	out := map[string]chan []verify.Result{}
	pending := map[string]<-chan []verify.Result{}
	for _, c := range checks {
		out[c.Name] = make(chan []verify.Result, 1)
		pending[c.Name] = out[c.Name]
	}
	go func() {
		var (
			mu     sync.Mutex
			wg     sync.WaitGroup
			failed = map[string][]verify.Result{}
		)
		for _, c := range checks {
			wg.Go(func() {
				results := <-first[c.Name]
				if p.Reruns <= 0 || len(failedNodes(results)) == 0 {
					out[c.Name] <- p.judged(results)
					return
				}
				mu.Lock()
				failed[c.Name] = results
				mu.Unlock()
			})
		}
		wg.Wait()
		firstCancel()
		for round := 1; round <= p.Reruns && len(failed) > 0; round++ {
			var again []verify.Check
			nodes := map[string][]string{}
			for _, c := range checks {
				if results, ok := failed[c.Name]; ok {
					again = append(again, c)
					nodes[c.Name] = failedNodes(results)
				}
			}
			roundCtx, roundCancel := context.WithTimeout(ctx, budget)
			rerun := verify.StartOn(roundCtx, r.Env, again, nodes)
			for _, c := range again {
				results := withAttempts(failed[c.Name], <-rerun[c.Name])
				if len(failedNodes(results)) == 0 || round == p.Reruns {
					out[c.Name] <- p.judged(results)
					delete(failed, c.Name)
					continue
				}
				failed[c.Name] = results
			}
			roundCancel()
		}
	}()
	return pending, cancel
}

// CheckWith runs checks together, judged by p (StartChecksWith), and
// returns their node x check verdict.
func (r *Run) CheckWith(ctx context.Context, checks []verify.Check, p CheckPolicy) *verify.Verdict {
	pending, cancel := r.StartChecksWith(ctx, checks, p)
	defer cancel()
	verdict := verify.NewVerdict(r.in.Topology.NodeNames())
	for _, c := range checks {
		verdict.Add(c.Name, <-pending[c.Name])
	}
	return verdict
}

// failedNodes are the nodes whose result failed, in results' order.
func failedNodes(results []verify.Result) []string {
	var nodes []string
	for _, r := range results {
		if r.Err != nil {
			nodes = append(nodes, r.Node)
		}
	}
	return nodes
}

// withAttempts is results with each node's rerun in place of its result,
// every attempt kept in order (verify.Result.Attempts).
func withAttempts(results, rerun []verify.Result) []verify.Result {
	out := slices.Clone(results)
	for _, again := range rerun {
		i := slices.IndexFunc(out, func(r verify.Result) bool { return r.Node == again.Node })
		if i < 0 {
			continue
		}
		attempts := out[i].Attempts
		if attempts == nil {
			attempts = []verify.Attempt{{Err: out[i].Err, Elapsed: out[i].Elapsed}}
		}
		again.Attempts = append(slices.Clip(attempts), verify.Attempt{Err: again.Err, Elapsed: again.Elapsed})
		out[i] = again
	}
	return out
}
