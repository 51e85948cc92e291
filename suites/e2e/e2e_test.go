package e2e_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/drivelab/drivelab/framework/config"
	"github.com/drivelab/drivelab/framework/harness"
	"github.com/drivelab/drivelab/framework/runid"
	"github.com/drivelab/drivelab/framework/topology"
	"github.com/drivelab/drivelab/framework/verify"
	"github.com/drivelab/drivelab/scenarios"
)

// outcomes are the scenarios' runs, for the closing tables and the JUnit file.
var outcomes []harness.Outcome

// The tables come last, after Ginkgo's own summary, with the total time.
var _ = ReportAfterSuite("verdict", func(r Report) {
	for _, o := range outcomes {
		fmt.Printf("\nscenario %s:\n%s", o.Scenario, o.Text())
	}
	fmt.Printf("total time: %.1fs\n", r.RunTime.Seconds())
	if opts.junit != "" {
		suite := []harness.Property{{Name: "flavor", Value: opts.flavor}, {Name: "shard", Value: thisShard.String()}}
		all := make([]harness.Outcome, len(outcomes))
		for i, o := range outcomes {
			o.Properties = append(append([]harness.Property(nil), o.Properties...), suite...)
			all[i] = o
		}
		Expect(harness.WriteJUnit(thisShard.Path(opts.junit), all)).To(Succeed())
	}
})

// repoRoot is where scenario paths are relative to (go test runs in the package dir).
const repoRoot = "../.."

var _ = Describe("scenario", func() {
	all := scenarios.All()
	owners := shardOwners(all)
	// With several scenarios in this process, each writes to a folder of its
	// own under -e2e.artifacts, or the last one's verdict and timings would
	// overwrite the others'.
	mine := 0
	for _, o := range owners {
		if o == thisShard.Index {
			mine++
		}
	}
	for i, sc := range all {
		if owners[i] != 0 && owners[i] != thisShard.Index {
			otherShard(sc, owners[i])
			continue
		}
		// Failed checks run again (E2E_RERUN) and known failures pass,
		// reported, until their quarantine expires (E2E_QUARANTINE).
		policy := harness.CheckPolicy{Reruns: env.Rerun, Quarantine: quarantined.For(sc.Name)}
		// ContinueOnFailure: one failed check must not hide the others' verdicts.
		Describe(sc.Name, Ordered, ContinueOnFailure, scenarioLabels(sc), func() {
			var (
				l       *harness.Run
				verdict *verify.Verdict
				started time.Time
				pending map[string]<-chan []verify.Result
				// upErr is why the lab never came up, for the reports.
				upErr error
			)

			BeforeAll(func(ctx SpecContext) {
				started = time.Now()
				// Skipped, never passed: its checks are reported as skipped.
				if err := sc.Supports(opts.flavor); err != nil {
					outcomes = append(outcomes, harness.Skipped(sc.Name, sc.Checks, err.Error()))
					Skip(err.Error())
				}
				l, upErr = up(ctx, sc, mine)
				Expect(upErr).NotTo(HaveOccurred())
				verdict = verify.NewVerdict(l.Env.Topology.NodeNames())
				// The checks run together from here; each spec below reports one.
				var cancel context.CancelFunc
				pending, cancel = l.StartChecksWith(context.Background(), sc.Checks, policy)
				DeferCleanup(cancel)
			}, NodeTimeout(env.Intervals(config.AccelTCG).UpBudget()))

			for _, check := range sc.Checks {
				// NodeTimeout, not SpecTimeout: the first spec of an Ordered
				// container also runs its BeforeAll (admission and boot).
				It(check.Name, func(ctx SpecContext) {
					var results []verify.Result
					select {
					case results = <-pending[check.Name]:
					case <-ctx.Done():
						Fail("check " + check.Name + " did not finish in time")
					}
					verdict.Add(check.Name, results)
					// Nothing let through goes unsaid: the notes name every
					// failed attempt, quarantine and flaky pass.
					notes := verify.Notes(results)
					if notes != "" {
						AddReportEntry("judged", notes)
					}
					Expect(verify.Failures(results)).To(Succeed())
					// Failures let through by a quarantine: skipped, as in JUnit.
					if verify.Err(results) != nil {
						Skip(strings.TrimSpace(notes))
					}
				}, NodeTimeout(policy.Budget(env.Intervals(config.AccelTCG))))
			}

			AfterAll(func(ctx SpecContext) {
				if l == nil {
					if upErr != nil {
						outcomes = append(outcomes, harness.FailedUp(sc.Name, sc.Checks, upErr, started))
					}
					return
				}
				o := l.Outcome(sc.Name, sc.Checks, verdict, started)
				Expect(l.Collect(ctx, o.FailedOnce())).To(Succeed())
				Expect(l.Report(o)).To(Succeed())
				outcomes = append(outcomes, o)
			})
		})
	}
})

// up brings scenario sc's lab up and registers its teardown; mine is how
// many scenarios this process runs.
func up(ctx SpecContext, sc scenarios.Scenario, mine int) (*harness.Run, error) {
	topo, err := topology.Load(scenarioPath(opts.topology, sc.Topology))
	if err != nil {
		return nil, err
	}
	in, err := harness.Open(ctx, harness.OpenInput{
		Settings: env,
		Run: harness.UpInput{
			RunID: runid.New(), Topology: topo,
			TemplatesDir: opts.templates, Flavor: opts.flavor, Overlay: scenarioPath(opts.overlay, sc.Overlay),
			Progress: GinkgoWriter, Diagnostics: sc.Diagnostics, LintRules: sc.Lint,
		},
		Guest: &harness.GuestInput{CacheDir: env.Paths.Cache, UserImage: opts.image, PackageDir: opts.packages},
	})
	if err != nil {
		return nil, err
	}
	DeferCleanup(in.Close)
	switch {
	case opts.artifacts != "" && mine > 1:
		in.ArtifactsDir = filepath.Join(opts.artifacts, sc.Name)
	case opts.artifacts != "":
		in.ArtifactsDir = opts.artifacts
	}
	l, err := harness.Up(ctx, in)
	if err != nil {
		return nil, err
	}
	DeferCleanup(func(ctx SpecContext) {
		if opts.keep {
			fmt.Fprintf(GinkgoWriter, "keeping run %s up (-e2e.keep); remove it with `e2e down`\n", l.ID)
			Expect(l.MarkKept()).To(Succeed())
			return
		}
		Expect(l.Down(ctx)).To(Succeed())
	}, NodeTimeout(in.Intervals.Teardown))
	return l, nil
}

// scenarioPath resolves a repository-relative path, preferring an explicit one.
func scenarioPath(explicit, rel string) string {
	switch {
	case explicit != "":
		return explicit
	case rel == "":
		return ""
	}
	return filepath.Join(repoRoot, rel)
}
