package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/drivelab/drivelab/framework/config"
	"github.com/drivelab/drivelab/framework/harness"
	"github.com/drivelab/drivelab/framework/report"
	"github.com/drivelab/drivelab/framework/verify"
	"github.com/drivelab/drivelab/scenarios"
)

func init() {
	register(command{
		name:    "check",
		summary: "run the scenario's checks against the kept lab (`e2e up`) and print the verdict",
		run:     runCheck,
	})
}

func runCheck(ctx context.Context, args []string) error {
	fs := newFlags("check")
	focus := fs.String("focus", "", "run only the checks whose name matches this regular expression")
	rerun := fs.Int("rerun", -1, fmt.Sprintf("run a failed check again on the nodes it failed on, up to N (at most %d) times, after the first pass over all checks; one that passes so is reported flaky (default: E2E_RERUN)", config.MaxRerun))
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	re, err := regexp.Compile(*focus)
	if err != nil {
		return fmt.Errorf("--focus %q: %w", *focus, err)
	}
	start := time.Now()
	k, err := loadKept()
	if err != nil {
		return err
	}
	sc, err := scenarioNamed(k.rec.Scenario)
	if err != nil {
		return fmt.Errorf("kept lab %s: %w", k.rec.Run, err)
	}
	checks, err := focused(sc.Checks, re)
	if err != nil {
		return fmt.Errorf("scenario %s: %w", sc.Name, err)
	}
	policy, err := checkPolicy(*rerun, sc.Name)
	if err != nil {
		return err
	}
	if err := k.connect(ctx); err != nil {
		return err
	}
	defer k.close()
	in := k.input(os.Stdout)
	in.Diagnostics = sc.Diagnostics
	in.LintRules = sc.Lint
	l, drift, err := harness.Attach(ctx, in, k.rec)
	if err != nil {
		return err
	}
	defer l.Close()
	for _, c := range drift {
		fmt.Printf("warning: %s differs from what it booted (%s): `e2e up` applies it\n", c.Node, c.Reason())
	}
	verdict := l.CheckWith(ctx, checks, policy)
	o := l.Outcome(sc.Name, checks, verdict, start)
	if commit := harness.Commit(k.rec.Templates); commit != "" {
		o.Properties = append(o.Properties, harness.Property{Name: "commit", Value: commit})
	}
	fmt.Printf("scenario %s on kept lab %s:\n%s%s", sc.Name, k.rec.Run, verdict.Table(), verdict.Notes())
	// The kept lab's boot is not this command's: Collect writes diagnostics
	// only, Report the verdict, JUnit and the report page.
	if err := errors.Join(l.Collect(ctx, o.FailedOnce()), l.Report(o)); err != nil {
		fmt.Printf("report incomplete: %v\n", err)
	}
	fmt.Printf("verdict, timings and JUnit in %s\n", l.ArtifactsDir)
	fmt.Printf("report: %s\n", filepath.Join(l.ArtifactsDir, harness.HTMLReport))
	page := harness.ReportPage(l.ArtifactsDir, "run "+l.ID.String(), []harness.Outcome{o})
	if err := report.GitHubFromEnv(os.Getenv, os.Stdout).Publish(page); err != nil {
		fmt.Printf("GitHub report incomplete: %v\n", err)
	}
	if err := verify.Failures(verdict.Results()); err != nil {
		fmt.Println("\nfailures:\n" + err.Error())
		return errors.New("checks failed")
	}
	fmt.Printf("%d checks passed in %.1fs", len(checks), time.Since(start).Seconds())
	if notes := verdict.Notes(); notes != "" {
		fmt.Print(", some only as the notes above say")
	}
	fmt.Println()
	return nil
}

// focused keeps the checks whose name matches re.
func focused(checks []verify.Check, re *regexp.Regexp) ([]verify.Check, error) {
	out := slices.DeleteFunc(slices.Clone(checks), func(c verify.Check) bool { return !re.MatchString(c.Name) })
	if len(out) == 0 {
		var names []string
		for _, c := range checks {
			names = append(names, c.Name)
		}
		return nil, fmt.Errorf("--focus %q matches no check; have %s", re, strings.Join(names, ", "))
	}
	return out, nil
}

// checkPolicy is how `e2e check` judges scenario's checks: reruns
// (--rerun, else E2E_RERUN) and the quarantine list (E2E_QUARANTINE,
// relative to the repository root: the current folder), held to the
// registry.
func checkPolicy(rerun int, scenario string) (harness.CheckPolicy, error) {
	env, err := settings()
	if err != nil {
		return harness.CheckPolicy{}, err
	}
	switch {
	case rerun > config.MaxRerun:
		return harness.CheckPolicy{}, fmt.Errorf("--rerun %d: at most %d", rerun, config.MaxRerun)
	case rerun >= 0:
		env.Rerun = rerun
	}
	q, err := scenarios.LoadQuarantine(".", env.Quarantine)
	if err != nil {
		return harness.CheckPolicy{}, err
	}
	return harness.CheckPolicy{Reruns: env.Rerun, Quarantine: q.For(scenario)}, nil
}
