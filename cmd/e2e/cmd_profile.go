package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/drivelab/drivelab/framework/harness"
	"github.com/drivelab/drivelab/framework/profile"
)

func init() {
	register(command{
		name:    "profile",
		summary: "where the kept lab's last boot went: each node's stages, slowest cloud-init events, units and user_data steps, and its timeline picture",
		run:     runProfile,
	})
}

func runProfile(ctx context.Context, args []string) error {
	fs := newFlags("profile")
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	env, err := settings()
	if err != nil {
		return err
	}
	rec, err := harness.LoadCurrent(env.Paths)
	if err != nil {
		return err
	}
	path := filepath.Join(rec.Artifacts, "profile.json")
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("kept lab %s has no boot profile (%w): `e2e up` writes one when it boots nodes", rec.Run, err)
	}
	var p profile.Profile
	if err := json.Unmarshal(b, &p); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	fmt.Print(profileReport(&p))
	fmt.Printf("timeline: %s\n", filepath.Join(rec.Artifacts, "timeline.svg"))
	return nil
}

// profileReport is a profile as text: stages per node, then the slowest pieces.
func profileReport(p *profile.Profile) string {
	var b strings.Builder
	w := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "node\tstage\tfrom\ttook")
	for _, n := range p.Nodes {
		for _, s := range n.Stages {
			fmt.Fprintf(w, "%s\t%s\t%.1fs\t%.1fs\n", n.Name, s.Name, s.StartS, s.DurationS)
		}
	}
	w.Flush()
	for i, s := range p.Costliest(5) {
		fmt.Fprintf(&b, "costliest stage %d: %s %s %.1fs\n", i+1, s.Node, s.Name, s.DurationS)
	}
	for _, n := range p.Nodes {
		for _, part := range []struct {
			what  string
			spans []profile.Span
		}{{"user_data step", n.UserData}, {"cloud-init event", n.CloudInit}, {"unit", n.Units}} {
			if len(part.spans) > 0 {
				fmt.Fprintf(&b, "%s: slowest %s %.1fs: %s\n", n.Name, part.what, part.spans[0].DurationS, part.spans[0].Name)
			}
		}
	}
	return b.String()
}
