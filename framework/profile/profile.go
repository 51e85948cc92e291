// Package profile tells where a run's boot time went: per node, the stages
// the console showed (firmware to ready), cloud-init's slowest events from
// its own log, systemd's slowest units, and the user_data script's slowest
// steps from the console's timestamps. It draws the run as a timeline, one
// lane per node and one bar per stage. It reads text; collecting it from
// the guests is the harness's job.
package profile

import (
	"bufio"
	"cmp"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Span is one timed piece of a boot. Start is from the run's start for
// stages; pieces inside a guest carry only their duration.
type Span struct {
	Node      string  `json:"node,omitempty"`
	Name      string  `json:"name"`
	StartS    float64 `json:"start_s,omitempty"`
	DurationS float64 `json:"duration_s"`
}

// Node is one node's boot profile.
type Node struct {
	Name string `json:"name"`
	// Stages run back to back from the domain's start to ready.
	Stages []Span `json:"stages"`
	// CloudInit are cloud-init's slowest events (stages and modules).
	CloudInit []Span `json:"cloud_init_events,omitempty"`
	// Units are systemd's slowest units (systemd-analyze blame).
	Units []Span `json:"systemd_units,omitempty"`
	// UserData are the user_data script's slowest steps: the console line
	// that started each and how long until the next line.
	UserData []Span `json:"user_data_steps,omitempty"`
	// SystemdTime is `systemd-analyze time`'s summary line.
	SystemdTime string `json:"systemd_time,omitempty"`
}

// Profile is a run's boot profile.
type Profile struct {
	Nodes []Node `json:"nodes"`
}

// Top is how many of each kind of piece a node keeps.
const Top = 8

// Costliest returns the n longest stages over all nodes.
func (p *Profile) Costliest(n int) []Span {
	var all []Span
	for _, node := range p.Nodes {
		for _, s := range node.Stages {
			s.Node = node.Name
			all = append(all, s)
		}
	}
	return top(all, n)
}

func top(spans []Span, n int) []Span {
	slices.SortStableFunc(spans, func(a, b Span) int { return cmp.Compare(b.DurationS, a.DurationS) })
	return spans[:min(n, len(spans))]
}

// cloudInitEvent is a line of cloud-init's log that opens or closes one of
// its reporting events, e.g.
// "2026-12-03 07:46:31,402 - handlers.py[DEBUG]: finish: init-network/config-ssh: SUCCESS: ...".
var cloudInitEvent = regexp.MustCompile(`^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) - handlers\.py\[DEBUG\]: (start|finish): ([^:]+):`)

// CloudInitEvents returns the slowest events of a cloud-init log.
func CloudInitEvents(log string) []Span {
	started := map[string]time.Time{}
	var spans []Span
	sc := bufio.NewScanner(strings.NewReader(log))
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for sc.Scan() {
		m := cloudInitEvent.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		t, err := time.Parse("2006-01-02 15:04:05,000", m[1])
		if err != nil {
			continue
		}
		if m[2] == "start" {
			started[m[3]] = t
		} else if s, ok := started[m[3]]; ok {
			spans = append(spans, Span{Name: m[3], DurationS: t.Sub(s).Seconds()})
			delete(started, m[3])
		}
	}
	return top(spans, Top)
}

// blameLine is a line of `systemd-analyze blame`, e.g. "1min 2.345s cloud-init.service".
var blameLine = regexp.MustCompile(`^\s*(?:(\d+)min\s*)?(?:([\d.]+)(ms|s))?\s+(\S+)$`)

// SystemdBlame returns the slowest units of `systemd-analyze blame`.
func SystemdBlame(out string) []Span {
	var spans []Span
	for _, line := range strings.Split(out, "\n") {
		m := blameLine.FindStringSubmatch(line)
		if m == nil || (m[1] == "" && m[2] == "") {
			continue
		}
		var d float64
		if m[1] != "" {
			mins, _ := strconv.Atoi(m[1])
			d = float64(mins) * 60
		}
		if m[2] != "" {
			v, _ := strconv.ParseFloat(m[2], 64)
			if m[3] == "ms" {
				v /= 1000
			}
			d += v
		}
		spans = append(spans, Span{Name: m[4], DurationS: d})
	}
	return top(spans, Top)
}

// consoleLine is a console line with the kernel's timestamp, as cloud-init's
// output reaches the console: "[  151.251442] cloud-init[301]: Enabling module mpm_event.".
var consoleLine = regexp.MustCompile(`\[\s*(\d+\.\d+)\] cloud-init\[\d+\]: (.*)$`)

// UserDataSteps returns the slowest steps of the user_data script from a
// console log: from cloud-init's final stage to its finished line, each
// output line is a step that lasts until the next line.
func UserDataSteps(console string) []Span {
	var spans []Span
	var prev string
	var prevT float64
	inFinal := false
	for _, raw := range strings.Split(console, "\n") {
		m := consoleLine.FindStringSubmatch(strings.TrimRight(raw, "\r"))
		if m == nil {
			continue
		}
		t, _ := strconv.ParseFloat(m[1], 64)
		text := strings.TrimSpace(m[2])
		if inFinal {
			spans = append(spans, Span{Name: clip(prev, 72), DurationS: t - prevT})
		}
		switch {
		case strings.Contains(text, "running 'modules:final'"):
			inFinal = true
		case strings.Contains(text, " finished at "):
			inFinal = false
		}
		prev, prevT = text, t
	}
	return top(spans, Top)
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-1] + "…"
}
