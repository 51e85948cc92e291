package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/drivelab/drivelab/framework/drivediff"
	"github.com/drivelab/drivelab/scenarios"
)

func init() {
	register(command{
		name:    "diff",
		summary: "what a change does to every scenario's drives, against a git revision; which scenarios it touches",
		run: func(ctx context.Context, args []string) error {
			return runDiff(ctx, args, ".", os.Stdout)
		},
	})
}

// templatesDir is where the flavors are, relative to a tree's root.
const templatesDir = "fixtures/templates"

// runDiff is `e2e diff` in the repository at repo, writing to stdout.
func runDiff(ctx context.Context, args []string, repo string, stdout io.Writer) (err error) {
	fs := newFlags("diff")
	base := fs.String("base", "", "the git revision to compare the work tree against (default: the merge-base with "+drivediff.MainRef+" if there is one, else HEAD)")
	format := fs.String("format", "text", "text, or markdown for a CI job summary")
	only := fs.Bool("scenarios-only", false, "print only the touched scenarios as a Ginkgo label filter (`loadbalancer || failover`), or an empty line")
	flavor := fs.String("flavor", "", "compare this flavor's drives only (a CI leg boots one flavor); default: every flavor")
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	if *format != "text" && *format != "markdown" {
		return fmt.Errorf("--format %q: want text or markdown", *format)
	}
	rev, what := *base, "--base "+*base
	if rev == "" {
		if rev, what, err = drivediff.DefaultBase(ctx, repo); err != nil {
			return err
		}
	}
	in := drivediff.Input{Work: repo, Templates: templatesDir}
	if *flavor != "" {
		in.Flavors = []string{*flavor}
	}
	keep := []string{templatesDir}
	for _, s := range scenarios.All() {
		in.Scenarios = append(in.Scenarios, drivediff.Scenario{Name: s.Name, Topology: s.Topology, Overlay: s.Overlay, Flavors: s.Flavors})
		keep = append(keep, s.Topology)
		if s.Overlay != "" {
			keep = append(keep, s.Overlay)
		}
	}
	// The revision's files go to a folder of their own, removed however
	// this ends: an error, or Ctrl-C, which cancels ctx (main.go).
	if in.Base, err = os.MkdirTemp("", "drivelab-diff-"); err != nil {
		return err
	}
	defer func() { err = errors.Join(err, os.RemoveAll(in.Base)) }()
	if err := drivediff.Extract(ctx, repo, rev, in.Base, keep); err != nil {
		return err
	}
	rep, err := drivediff.Diff(ctx, in)
	if err != nil {
		return err
	}
	name := shortRev(ctx, repo, rev) + " (" + what + ")"
	switch {
	case *only:
		_, err = fmt.Fprintln(stdout, rep.LabelFilter())
		return err
	case *format == "markdown":
		return rep.WriteMarkdown(stdout, name)
	}
	return rep.WriteText(stdout, name)
}

// shortRev is rev as a short commit id, or rev itself when git cannot say.
func shortRev(ctx context.Context, repo, rev string) string {
	if id, err := drivediff.ShortCommit(ctx, repo, rev); err == nil {
		return id
	}
	return rev
}
