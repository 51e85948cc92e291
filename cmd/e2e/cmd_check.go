package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/drivelab/drivelab/framework/harness"
	"github.com/drivelab/drivelab/framework/verify"
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
	checksCtx, cancel := context.WithTimeout(ctx, 6*k.up.Intervals.Command)
	defer cancel()
	verdict, all := verify.RunAll(checksCtx, l.Env, checks)
	fmt.Printf("scenario %s on kept lab %s:\n%s", sc.Name, k.rec.Run, verdict.Table())
	if err := verify.Err(all); err != nil {
		fmt.Println("\nfailures:\n" + err.Error())
		if derr := l.Diagnose(ctx); derr != nil {
			fmt.Printf("diagnostics incomplete: %v\n", derr)
		}
		fmt.Printf("diagnostics in %s\n", l.ArtifactsDir)
		return errors.New("checks failed")
	}
	fmt.Printf("%d checks passed in %.1fs\n", len(checks), time.Since(start).Seconds())
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
