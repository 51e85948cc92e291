package harness

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/drivelab/drivelab/framework/platform"
	"github.com/drivelab/drivelab/framework/profile"
	"github.com/drivelab/drivelab/framework/vm"
)

// profileCommand reads, in one session, what the profile needs from a guest:
// systemd's timing and blame, and cloud-init's event lines (parsed here,
// not by `cloud-init analyze`, which costs a Python start under emulation).
const profileCommand = `systemd-analyze time 2>&1 | head -n 1; echo @@blame
systemd-analyze blame --no-pager 2>/dev/null | head -n 20; echo @@events
grep -E ' - handlers.py\[DEBUG\]: (start|finish): ' /var/log/cloud-init.log 2>/dev/null`

// profile tells where the run's boot time went: the stages each node went
// through (from the boot), and, read from each node, cloud-init's slowest
// events, systemd's slowest units and the user_data script's slowest steps.
// A node that cannot be read keeps its stages; the error says which.
func (r *Run) profile(ctx context.Context) (*profile.Profile, error) {
	boot := r.Boot
	p := &profile.Profile{Nodes: make([]profile.Node, len(boot.Nodes))}
	errs := make([]error, len(boot.Nodes))
	var wg sync.WaitGroup
	for i, n := range boot.Nodes {
		p.Nodes[i] = profile.Node{Name: n.Name, Stages: stageSpans(boot, n)}
		if console, err := os.ReadFile(n.Console); err == nil {
			p.Nodes[i].UserData = profile.UserDataSteps(string(console))
		}
		c := r.sessions[n.Name]
		if c == nil {
			continue
		}
		wg.Go(func() {
			cmdCtx, cancel := context.WithTimeout(ctx, r.in.Intervals.Command)
			defer cancel()
			out, err := c.Output(cmdCtx, profileCommand)
			if err != nil {
				errs[i] = err
				return
			}
			timeLine, rest, _ := strings.Cut(out, "@@blame\n")
			blame, events, _ := strings.Cut(rest, "@@events\n")
			p.Nodes[i].SystemdTime = strings.TrimSpace(timeLine)
			p.Nodes[i].Units = profile.SystemdBlame(blame)
			p.Nodes[i].CloudInit = profile.CloudInitEvents(events)
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			return p, fmt.Errorf("profile of node %s: %w", p.Nodes[i].Name, err)
		}
	}
	return p, nil
}

// stageSpans turns a node's stage times into back-to-back spans from the
// run's start, each lasting until the next began.
func stageSpans(boot platform.BootReport, n platform.NodeReport) []profile.Span {
	var spans []profile.Span
	for i, s := range n.Stages {
		if s.Name == string(vm.StageReady) {
			break
		}
		start := s.Seen.Sub(boot.Started).Seconds()
		end := start
		if i+1 < len(n.Stages) {
			end = n.Stages[i+1].Seen.Sub(boot.Started).Seconds()
		}
		spans = append(spans, profile.Span{Name: s.Name, StartS: start, DurationS: end - start})
	}
	return spans
}

// writeProfile writes profile.json and the timeline picture timeline.svg
// into the run's artifacts folder and returns the picture's path.
func (r *Run) writeProfile(p *profile.Profile) (string, error) {
	b, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(r.ArtifactsDir, "profile.json"), b, 0o644); err != nil {
		return "", err
	}
	svg := filepath.Join(r.ArtifactsDir, "timeline.svg")
	return svg, os.WriteFile(svg, p.SVG("run "+r.ID.String()+": where the boot time went (seconds from the run's start)", r.Boot.Scale.Text), 0o644)
}
