package e2e_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	. "github.com/onsi/ginkgo/v2"
	"github.com/onsi/ginkgo/v2/reporters"
	. "github.com/onsi/gomega"

	"github.com/drivelab/drivelab/framework/config"
	"github.com/drivelab/drivelab/framework/harness"
	"github.com/drivelab/drivelab/framework/topology"
	"github.com/drivelab/drivelab/framework/verify"
	"github.com/drivelab/drivelab/framework/vm"
	"github.com/drivelab/drivelab/scenarios"
)

// verdicts collects each scenario's node x check table for the closing report.
var verdicts []string

// junitProperties describe the machine the runs booted on, for the JUnit report.
var junitProperties []reporters.JUnitProperty

// The tables come last, after Ginkgo's own summary, with the total time.
var _ = ReportAfterSuite("verdict", func(r Report) {
	for _, v := range verdicts {
		fmt.Println("\n" + v)
	}
	fmt.Printf("total time: %.1fs\n", r.RunTime.Seconds())
	if opts.junit != "" {
		props := append(junitProperties, reporters.JUnitProperty{Name: "flavor", Value: opts.flavor},
			reporters.JUnitProperty{Name: "shard", Value: thisShard.String()})
		Expect(writeJUnit(r, thisShard.Path(opts.junit), props)).To(Succeed())
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
		// ContinueOnFailure: one failed check must not hide the others' verdicts.
		Describe(sc.Name, Ordered, ContinueOnFailure, scenarioLabels(sc), func() {
			var (
				l         *harness.Lab
				intervals config.Intervals
				verdict   *verify.Verdict
				failed    bool
				pending   map[string]<-chan []verify.Result
			)

			BeforeAll(func(ctx SpecContext) {
				// Skipped, never passed: its checks are reported as skipped.
				if err := sc.Supports(opts.flavor); err != nil {
					verdicts = append(verdicts, "scenario "+sc.Name+": skipped: "+err.Error())
					Skip(err.Error())
				}
				topo, err := topology.Load(scenarioPath(opts.topology, sc.Topology))
				Expect(err).NotTo(HaveOccurred())
				verdict = verify.NewVerdict(topo.NodeNames())
				up, err := harness.Open(ctx, harness.OpenInput{
					Settings: env,
					Run: harness.UpInput{
						RunID: vm.NewRunID(), Topology: topo,
						TemplatesDir: opts.templates, Flavor: opts.flavor, Overlay: scenarioPath(opts.overlay, sc.Overlay),
						Progress: GinkgoWriter, Diagnostics: sc.Diagnostics, LintRules: sc.Lint,
					},
					Guest: &harness.GuestInput{CacheDir: env.Paths.Cache, UserImage: opts.image, PackageDir: opts.packages},
				})
				Expect(err).NotTo(HaveOccurred())
				DeferCleanup(up.Close)
				intervals = up.Intervals
				switch {
				case opts.artifacts != "" && mine > 1:
					up.Paths.Artifacts = filepath.Join(opts.artifacts, sc.Name)
				case opts.artifacts != "":
					up.Paths.Artifacts, up.RunID = filepath.Dir(opts.artifacts), filepath.Base(opts.artifacts)
				}
				l, err = harness.Up(ctx, up)
				Expect(err).NotTo(HaveOccurred())
				DeferCleanup(func(ctx SpecContext) {
					if opts.keep {
						fmt.Fprintf(GinkgoWriter, "keeping run %s up (-e2e.keep); remove it with `e2e down`\n", up.RunID)
						Expect(l.MarkKept()).To(Succeed())
						return
					}
					Expect(l.Down(ctx)).To(Succeed())
				}, NodeTimeout(intervals.Teardown))
				// Registered after teardown so it runs before it, and only on failure.
				DeferCleanup(func(ctx SpecContext) {
					if failed {
						Expect(l.Diagnose(ctx)).To(Succeed())
						fmt.Fprintf(GinkgoWriter, "diagnostics in %s\n", l.ArtifactsDir)
					}
				}, NodeTimeout(intervals.Command*4))

				// The checks run together from here; each spec below reports one.
				checksCtx, cancel := context.WithTimeout(context.Background(), checkBudget())
				DeferCleanup(cancel)
				pending = verify.Start(checksCtx, l.Env, sc.Checks)
			}, NodeTimeout(bootBudget()))

			AfterEach(func() {
				if CurrentSpecReport().Failed() {
					failed = true
				}
			})

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
					Expect(verify.Err(results)).To(Succeed())
				}, NodeTimeout(checkBudget()))
			}

			AfterAll(func(ctx SpecContext) {
				if verdict == nil {
					return
				}
				report := verdict.Table()
				if l != nil && l.Run != nil {
					report = fmt.Sprintf("boot path: %s; accelerator: %s\n", l.Run.BootPath(), l.Run.DomainType) + report
					slow := l.Run.SlowestCloudInit()
					report += fmt.Sprintf("all nodes ready after %.1fs; slowest cloud-init: %s at %.1fs of guest uptime\n",
						l.Run.AllReady.Seconds(), slow.Name, slow.Finished.Uptime.Seconds())
					Expect(os.WriteFile(filepath.Join(l.ArtifactsDir, "verdict.txt"), []byte(report), 0o644)).To(Succeed())
					// For `make bench`: when the verdict was known, next to the guests' own boot.
					verdictAt := float64(time.Now().UnixNano()) / 1e9
					junitProperties = append(junitProperties, runProperties(sc.Name, l.Run)...)
					prof, perr := l.Profile(ctx)
					if perr != nil {
						fmt.Fprintf(GinkgoWriter, "boot profile incomplete: %v\n", perr)
					}
					svg, err := l.WriteProfile(prof)
					Expect(err).NotTo(HaveOccurred())
					fmt.Fprintf(GinkgoWriter, "boot timeline: %s\n%s", svg, costliest(prof))
					timings, err := json.MarshalIndent(map[string]any{
						"verdict_unix":         verdictAt,
						"failed":               verdict.Failed(),
						"all_ready_s":          l.Run.AllReady.Seconds(),
						"slowest_node":         slow.Name,
						"slowest_cloud_init_s": slow.Finished.Uptime.Seconds(),
						"accel":                l.Run.DomainType,
						"boot_path":            l.Run.BootPath(),
						"host_cores":           l.Run.Scale.HostCores,
						"deadline_scale":       l.Run.Scale,
						"nodes":                nodeTimings(l.Run),
						"profile":              prof,
					}, "", "  ")
					Expect(err).NotTo(HaveOccurred())
					Expect(os.WriteFile(filepath.Join(l.ArtifactsDir, "timings.json"), timings, 0o644)).To(Succeed())
				}
				verdicts = append(verdicts, "scenario "+sc.Name+":\n"+report)
			})
		})
	}
})

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

// bootBudget bounds BeforeAll: admission, boot, cloud-init and SSH, at their TCG
// defaults or overrides, whichever the run will use.
func bootBudget() time.Duration {
	iv := env.Intervals(config.AccelTCG)
	return iv.Admission + iv.CloudInit + iv.SSH + iv.Teardown
}

// checkBudget bounds one check: a handful of remote commands.
func checkBudget() time.Duration {
	iv := env.Intervals(config.AccelTCG)
	return 6 * iv.Command
}
