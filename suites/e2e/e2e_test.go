package e2e_test

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/drivelab/drivelab/framework/config"
	"github.com/drivelab/drivelab/framework/harness"
	"github.com/drivelab/drivelab/framework/report"
	"github.com/drivelab/drivelab/framework/runid"
	"github.com/drivelab/drivelab/framework/topology"
	"github.com/drivelab/drivelab/framework/verify"
	"github.com/drivelab/drivelab/scenarios"
)

// outcomes are the scenarios' runs, for the closing tables and the JUnit file.
var outcomes []harness.Outcome

// The tables come last, after Ginkgo's own summary, with the total time;
// then the JUnit file, the one report page of this `make e2e` at the
// artifacts root (a section per scenario, index.html), and under GitHub
// Actions an annotation per failure and the tables in the job's summary.
var _ = ReportAfterSuite("verdict", func(r Report) {
	for _, o := range outcomes {
		fmt.Printf("\nscenario %s:\n%s", o.Scenario, o.Text())
	}
	fmt.Printf("total time: %.1fs\n", r.RunTime.Seconds())
	suite := []harness.Property{{Name: "shard", Value: thisShard.String()}}
	if commit := harness.Commit(opts.templates); commit != "" {
		suite = append(suite, harness.Property{Name: "commit", Value: commit})
	}
	all := make([]harness.Outcome, len(outcomes))
	for i, o := range outcomes {
		// The flavor the scenario rendered with (scenarios.Scenario.FlavorOf).
		flavor := harness.Property{Name: "flavor", Value: opts.flavor}
		if sc, ok := scenarios.ByName(o.Scenario); ok {
			flavor.Value = sc.Flavor(opts.flavor)
		}
		o.Properties = append(append([]harness.Property(nil), o.Properties...), append([]harness.Property{flavor}, suite...)...)
		all[i] = o
	}
	if opts.artifacts != "" {
		// No scenario may have made it: every one skipped or filtered out.
		Expect(os.MkdirAll(opts.artifacts, 0o755)).To(Succeed())
	}
	if opts.junit != "" {
		Expect(harness.WriteJUnit(thisShard.Path(opts.junit), all)).To(Succeed())
	}
	root := cmp.Or(opts.artifacts, ".")
	page := harness.ReportPage(root, "make e2e "+filepath.Base(root), all)
	if opts.artifacts != "" {
		Expect(report.Write(filepath.Join(root, harness.HTMLReport), page)).To(Succeed())
	}
	Expect(report.GitHubFromEnv(os.Getenv, os.Stdout).Publish(page)).To(Succeed())
})

// scenariosHere is how many scenarios this process runs.
var scenariosHere int

// With several hosts, every scenario comes up from the start, each on the
// host the plan gave it; a suite interrupted before a container took its
// scenario takes that one down here.
var _ = BeforeSuite(func() {
	if len(hosts) > 1 {
		launchAll()
	}
})

var _ = AfterSuite(func(ctx SpecContext) {
	downLaunches(ctx)
}, NodeTimeout(env.Intervals(config.AccelTCG).Teardown))

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
	scenariosHere = mine
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
				// upErr is why the lab never came up, for the reports;
				// run and artifacts name the run and its folder.
				upErr     error
				run       runid.ID
				artifacts string
			)

			BeforeAll(func(ctx SpecContext) {
				started = time.Now()
				// Skipped, never passed: its checks are reported as skipped.
				if err := sc.Supports(opts.flavor); err != nil {
					outcomes = append(outcomes, harness.Skipped(sc.Name, sc.Checks, err.Error()))
					Skip(err.Error())
				}
				var in harness.UpInput
				if la := launches[sc.Name]; la != nil {
					// Brought up from the suite's start, on its own host.
					la.taken = true
					select {
					case <-la.done:
					case <-ctx.Done():
						Fail("scenario " + sc.Name + " did not come up in time")
					}
					started, run, artifacts = la.started, la.runID, la.artifacts
					in, l, upErr = la.in, la.run, la.err
					cleanUp(in, l)
					Expect(upErr).NotTo(HaveOccurred())
					verdict = verify.NewVerdict(l.Env.Topology.NodeNames())
					pending = la.pending
					DeferCleanup(la.cancel)
					return
				}
				run = runid.New()
				artifacts = artifactsDir(sc, mine, run)
				in, l, upErr = begin(ctx, sc, run, artifacts, GinkgoWriter)
				cleanUp(in, l)
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
						o := harness.FailedUp(sc.Name, sc.Checks, upErr, started)
						o.Run, o.ArtifactsDir, o.Host = run, artifacts, hostOf(sc).Name
						outcomes = append(outcomes, o)
					}
					return
				}
				o := l.Outcome(sc.Name, sc.Checks, verdict, started)
				o.Host = hostOf(sc).Name
				Expect(l.Collect(ctx, o.FailedOnce())).To(Succeed())
				Expect(l.Report(o)).To(Succeed())
				outcomes = append(outcomes, o)
			})
		})
	}
})

// artifactsDir is where scenario sc's run leaves its artifacts; mine is
// how many scenarios this process runs.
func artifactsDir(sc scenarios.Scenario, mine int, run runid.ID) string {
	switch {
	case opts.artifacts != "" && mine > 1:
		return filepath.Join(opts.artifacts, sc.Name)
	case opts.artifacts != "":
		return opts.artifacts
	}
	return run.ArtifactsDir(env.Paths.Artifacts)
}

// begin brings scenario sc up as run on its host, with its artifacts in
// the folder artifacts and its progress to out. in is set once the host
// is open, l once the run is up.
func begin(ctx context.Context, sc scenarios.Scenario, run runid.ID, artifacts string, out io.Writer) (in harness.UpInput, l *harness.Run, err error) {
	topoPath := scenarioPath(opts.topology, sc.Topology)
	topo, err := topology.Load(topoPath)
	if err != nil {
		return in, nil, err
	}
	host := hostOf(sc)
	in, err = harness.Open(ctx, harness.OpenInput{
		Settings: env,
		Host:     &host,
		Run: harness.UpInput{
			RunID: run, Topology: topo, ArtifactsDir: artifacts,
			TemplatesDir: opts.templates, Flavor: sc.Flavor(opts.flavor), Overlay: scenarioPath(opts.overlay, sc.Overlay),
			Progress: out, Diagnostics: sc.Diagnostics, LintRules: sc.Lint,
			Golden: goldenListing(topoPath),
		},
		Guest: &harness.GuestInput{CacheDir: env.Paths.Cache, UserImage: opts.image, PackageDir: opts.packages},
	})
	if err != nil {
		return harness.UpInput{}, nil, err
	}
	l, err = harness.Up(ctx, in)
	return in, l, err
}

// cleanUp registers the teardown of what begin made: the run (or, with
// -e2e.keep, its claim marked kept), then the connection to its host.
func cleanUp(in harness.UpInput, l *harness.Run) {
	if in.Platform != nil {
		DeferCleanup(in.Close)
	}
	if l == nil {
		return
	}
	DeferCleanup(func(ctx SpecContext) {
		if opts.keep {
			fmt.Fprintf(GinkgoWriter, "keeping run %s up (-e2e.keep); remove it with `e2e down`\n", l.ID)
			Expect(l.MarkKept()).To(Succeed())
			return
		}
		Expect(l.Down(ctx)).To(Succeed())
	}, NodeTimeout(in.Intervals.Teardown))
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

// goldenListing is the golden listing of the flavor's drives when topoPath
// is the topology the listings were made from (framework/golden), for the
// report's diff of the drives; else "".
func goldenListing(topoPath string) string {
	ref, err := os.Stat(filepath.Join(repoRoot, "fixtures", "topology.yaml"))
	if err != nil {
		return ""
	}
	if st, err := os.Stat(topoPath); err != nil || !os.SameFile(ref, st) {
		return ""
	}
	listing, err := filepath.Abs(filepath.Join(repoRoot, "fixtures", "golden", opts.flavor+".txt"))
	if err != nil {
		return ""
	}
	if _, err := os.Stat(listing); err != nil {
		return ""
	}
	return listing
}
