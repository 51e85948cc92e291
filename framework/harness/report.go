package harness

import (
	"cmp"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/drivelab/drivelab/framework/atomicfile"
	"github.com/drivelab/drivelab/framework/platform"
	"github.com/drivelab/drivelab/framework/runid"
	"github.com/drivelab/drivelab/framework/verify"
)

// Outcome is one scenario's run, as the reports tell it.
type Outcome struct {
	Scenario string
	// Checks are the scenario's check names, in order.
	Checks []string
	// Skipped says why the scenario did not run; Err why it failed before
	// its checks ran (lint, admission, network, boot, SSH).
	Skipped string
	Err     error
	Verdict *verify.Verdict
	// Boot is what the boot measured; nil when nothing booted.
	Boot *platform.BootReport
	// Started and Elapsed time the scenario, from its start to its verdict.
	Started time.Time
	Elapsed time.Duration
	// Properties describe the machine it ran on (RunProperties).
	Properties []Property
	// Run and ArtifactsDir are the run's id and folder, where the HTML
	// report reads its consoles and logs; "" when no run started.
	Run          runid.ID
	ArtifactsDir string
	// Host is the libvirt host the scenario ran on (E2E_HOSTS): "" or
	// "local" for this machine's own libvirtd. The caller sets it; the
	// reports name it only when it is another host, so that a local run's
	// reports stay as they were (CI matches JUnit history by name).
	Host string
}

// Local is the Host of an outcome run on this machine's own libvirtd,
// as a caller may spell it; "" means the same.
const Local = "local"

// remote is the host the outcome ran on when it is not this machine's
// own libvirtd, or "".
func (o Outcome) remote() string {
	if o.Host == Local {
		return ""
	}
	return o.Host
}

// Property is a JUnit property.
type Property struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

// Failed says whether the outcome fails the run. A check that failed and
// then passed when run again (verify.Result.Flaky), or whose failure a
// quarantine in force lets through (verify.Result.Quarantined), does not;
// the verdict's results say which did, with every attempt.
func (o Outcome) Failed() bool { return o.Err != nil || (o.Verdict != nil && o.Verdict.Failed()) }

// FailedOnce says whether any check failed on any attempt, whether or not
// that fails the run: Collect gathers the nodes' evidence then.
func (o Outcome) FailedOnce() bool {
	if o.Failed() {
		return true
	}
	if o.Verdict == nil {
		return false
	}
	return slices.ContainsFunc(o.Verdict.Results(), func(r verify.Result) bool { return r.FirstFailure() != nil })
}

// Text is the outcome as verdict.txt and the end of `make e2e` give it:
// the boot path, the node x check table and the boot's times. Its first
// line names the host when the scenario ran on another one than this.
func (o Outcome) Text() string {
	host := o.remote()
	switch {
	case o.Skipped != "" && host != "":
		return "skipped on host " + host + ": " + o.Skipped + "\n"
	case o.Skipped != "":
		return "skipped: " + o.Skipped + "\n"
	case o.Verdict == nil && host != "":
		return fmt.Sprintf("failed on host %s before its checks: %v\n", host, o.Err)
	case o.Verdict == nil:
		return fmt.Sprintf("failed before its checks: %v\n", o.Err)
	}
	table := o.Verdict.Table() + o.Verdict.Notes()
	b := o.Boot
	if b == nil {
		if host != "" {
			return "host: " + host + "\n" + table
		}
		return table
	}
	first := fmt.Sprintf("boot path: %s; accelerator: %s\n", b.Path(), b.Accel)
	if host != "" {
		first = "host: " + host + "; " + first
	}
	slow := b.Slowest()
	return first + table + fmt.Sprintf("all nodes ready after %.1fs; slowest cloud-init: %s at %.1fs of guest uptime\n",
		b.AllReady.Seconds(), slow.Name, slow.GuestUptime.Seconds())
}

// Skipped is the outcome of a scenario that did not run, and why.
func Skipped(scenario string, checks []verify.Check, why string) Outcome {
	return Outcome{Scenario: scenario, Checks: checkNames(checks), Skipped: why, Started: time.Now()}
}

// FailedUp is the outcome of a scenario whose lab never came up, and why.
func FailedUp(scenario string, checks []verify.Check, err error, started time.Time) Outcome {
	return Outcome{Scenario: scenario, Checks: checkNames(checks), Err: err, Started: started, Elapsed: time.Since(started)}
}

func checkNames(checks []verify.Check) []string {
	var names []string
	for _, c := range checks {
		names = append(names, c.Name)
	}
	return names
}

// Outcome is this run of scenario's checks as verdict judged them, timed
// from started (the scenario's start) to now (its verdict).
func (r *Run) Outcome(scenario string, checks []verify.Check, verdict *verify.Verdict, started time.Time) Outcome {
	o := Outcome{Scenario: scenario, Checks: checkNames(checks), Verdict: verdict, Started: started, Elapsed: time.Since(started),
		Run: r.ID, ArtifactsDir: r.ArtifactsDir}
	if r.Cluster != nil {
		boot := r.Boot
		o.Boot = &boot
		o.Properties = RunProperties(scenario, boot)
	}
	return o
}

// Report writes what the run leaves for people and CI into its artifacts
// folder: verdict.txt, timings.json, junit.xml and the report page
// index.html, for `make e2e` and `e2e check` alike. Collect comes first:
// timings.json carries its profile, the page its evidence.
func (r *Run) Report(o Outcome) error {
	if err := os.WriteFile(filepath.Join(r.ArtifactsDir, "verdict.txt"), []byte(o.Text()), 0o644); err != nil {
		return err
	}
	if err := WriteJUnit(filepath.Join(r.ArtifactsDir, "junit.xml"), []Outcome{o}); err != nil {
		return err
	}
	timings := map[string]any{
		// For `make bench`: when the verdict was known, next to the guests' own boot.
		"verdict_unix": float64(o.Started.Add(o.Elapsed).UnixNano()) / 1e9,
		"failed":       o.Failed(),
		"checks_s":     checkTimes(o.Verdict),
	}
	if b := o.Boot; b != nil {
		slow := b.Slowest()
		maps.Copy(timings, map[string]any{
			"all_ready_s":          b.AllReady.Seconds(),
			"slowest_node":         slow.Name,
			"slowest_cloud_init_s": slow.GuestUptime.Seconds(),
			"accel":                b.Accel,
			"boot_path":            b.Path(),
			"host_cores":           b.Scale.HostCores,
			"deadline_scale":       b.Scale.Detail,
			"nodes":                nodeTimings(*b),
			"profile":              r.Profile,
		})
	}
	out, err := json.MarshalIndent(timings, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(r.ArtifactsDir, "timings.json"), out, 0o644); err != nil {
		return err
	}
	_, err = WriteHTMLReport(r.ArtifactsDir, "run "+r.ID.String(), []Outcome{o})
	return err
}

// checkTimes is each check's slowest node, in seconds.
func checkTimes(v *verify.Verdict) map[string]float64 {
	out := map[string]float64{}
	if v == nil {
		return out
	}
	for _, r := range v.Results() {
		out[r.Check] = max(out[r.Check], r.Elapsed.Seconds())
	}
	return out
}

// nodeTiming is one node's boot in timings.json.
type nodeTiming struct {
	Name      string             `json:"name"`
	VCPUs     int                `json:"vcpus"`
	MemoryMiB int                `json:"memory_mib"`
	CPUS      float64            `json:"vcpu_time_s"`
	CloudInit float64            `json:"cloud_init_finished_s"`
	Ready     float64            `json:"ready_s"`
	Stages    map[string]float64 `json:"stage_started_s"`
	// Path is how the harness started the node, GatePath what the image's
	// gate saw (the boot fails when they differ).
	Path     string `json:"boot_path"`
	GatePath string `json:"gate_path"`
}

func nodeTimings(b platform.BootReport) []nodeTiming {
	var out []nodeTiming
	for _, n := range b.Nodes {
		t := nodeTiming{Name: n.Name, VCPUs: n.VCPUs, MemoryMiB: n.MemoryMiB, CPUS: n.CPU.Seconds(),
			CloudInit: n.CloudInit.Seconds(), Ready: n.Ready.Seconds(), Stages: map[string]float64{}, Path: n.Path, GatePath: n.GatePath}
		for _, s := range n.Stages {
			t.Stages[s.Name] = s.Seen.Sub(b.Started).Seconds()
		}
		out = append(out, t)
	}
	return out
}

// RunProperties are what the JUnit report says of the machine a scenario ran on.
func RunProperties(scenario string, b platform.BootReport) []Property {
	p := []Property{
		{scenario + ".accel", b.Accel},
		{scenario + ".boot_path", b.Path()},
		{scenario + ".host_cores", fmt.Sprint(b.Scale.HostCores)},
		{scenario + ".guest_vcpus", fmt.Sprint(b.Scale.GuestVCPUs)},
		{scenario + ".deadline_scale", fmt.Sprintf("%.2f", b.Scale.Factor)},
	}
	for _, n := range b.Nodes {
		p = append(p, Property{scenario + "." + n.Name + ".vcpus", fmt.Sprint(n.VCPUs)})
	}
	return p
}

// junitSuites is the JUnit XML that CI systems read (Jenkins' schema, as
// GitHub's and GitLab's test reports take it).
type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Time     float64      `xml:"time,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name       string      `xml:"name,attr"`
	Tests      int         `xml:"tests,attr"`
	Failures   int         `xml:"failures,attr"`
	Errors     int         `xml:"errors,attr"`
	Skipped    int         `xml:"skipped,attr"`
	Time       float64     `xml:"time,attr"`
	Timestamp  string      `xml:"timestamp,attr,omitempty"`
	Properties []Property  `xml:"properties>property,omitempty"`
	Cases      []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      float64       `xml:"time,attr"`
	Failure   *junitMessage `xml:"failure,omitempty"`
	Error     *junitMessage `xml:"error,omitempty"`
	Skipped   *junitMessage `xml:"skipped,omitempty"`
	// RerunFailures and FlakyFailures are the failed attempts of a check
	// run again (CheckPolicy.Reruns), as Maven surefire writes them: of a
	// check that failed every attempt, the ones before the last (which
	// is Failure); of a flaky one, every failed one, the case passing.
	RerunFailures []junitAttempt `xml:"rerunFailure,omitempty"`
	FlakyFailures []junitAttempt `xml:"flakyFailure,omitempty"`
}

// junitAttempt is surefire's rerunFailure or flakyFailure element.
type junitAttempt struct {
	Message    string `xml:"message,attr"`
	Type       string `xml:"type,attr"`
	StackTrace string `xml:"stackTrace,omitempty"`
}

type junitMessage struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr,omitempty"`
	Text    string `xml:",chardata"`
}

// upCase names the testcase of a scenario's way up (lint, admission,
// network, boot, SSH), which fails when the scenario never reached its checks.
const upCase = "up"

// WriteJUnit writes outcomes as JUnit XML to path (atomically): a suite
// per scenario, a testcase for its way up and one per check, each failure
// naming the nodes and what they said.
func WriteJUnit(path string, outcomes []Outcome) error {
	var all junitSuites
	for _, o := range outcomes {
		s := junitSuite{Name: o.Scenario, Time: o.Elapsed.Seconds(), Properties: o.Properties}
		if !o.Started.IsZero() {
			s.Timestamp = o.Started.UTC().Format(time.RFC3339)
		}
		// Viewers show a testcase as classname and name, so the host goes
		// in the classname; a local run's stays the scenario, matching
		// the history CI keeps by it.
		class := o.Scenario
		if host := o.remote(); host != "" {
			s.Properties = append(slices.Clip(s.Properties), Property{"host", host})
			class += "@" + host
		}
		up := junitCase{Name: upCase, Classname: class}
		if o.Boot != nil {
			up.Time = o.Boot.AllReady.Seconds()
		}
		switch {
		case o.Skipped != "":
			up.Skipped = &junitMessage{Message: o.Skipped}
		case o.Err != nil:
			up.Error = junitError("up", o.Err)
		}
		s.Cases = append(s.Cases, up)
		byCheck := map[string][]verify.Result{}
		if o.Verdict != nil {
			for _, r := range o.Verdict.Results() {
				byCheck[r.Check] = append(byCheck[r.Check], r)
			}
		}
		for _, name := range o.Checks {
			c := junitCase{Name: name, Classname: class}
			results, ran := byCheck[name]
			for _, r := range results {
				c.Time = max(c.Time, r.Elapsed.Seconds())
			}
			switch err := verify.Failures(results); {
			case !ran:
				c.Skipped = &junitMessage{Message: "not run: " + cmp.Or(o.Skipped, "the lab did not come up")}
			case err != nil:
				c.Failure = junitError("check", err)
				c.RerunFailures = earlierAttempts(results)
			case verify.Err(results) != nil:
				c.Skipped = quarantined(results)
			default:
				c.FlakyFailures = earlierAttempts(results)
			}
			s.Cases = append(s.Cases, c)
		}
		for _, c := range s.Cases {
			s.Tests++
			switch {
			case c.Failure != nil:
				s.Failures++
			case c.Error != nil:
				s.Errors++
			case c.Skipped != nil:
				s.Skipped++
			}
		}
		all.Tests, all.Failures, all.Errors, all.Time = all.Tests+s.Tests, all.Failures+s.Failures, all.Errors+s.Errors, all.Time+s.Time
		all.Suites = append(all.Suites, s)
	}
	out, err := xml.MarshalIndent(all, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.Write(path, append(append([]byte(xml.Header), out...), '\n'), 0o644)
}

// junitError is err as JUnit's failure or error: its first line the
// message, the whole of it the text.
func junitError(typ string, err error) *junitMessage {
	first, _, _ := strings.Cut(err.Error(), "\n")
	return &junitMessage{Message: first, Type: typ, Text: err.Error()}
}

// quarantined is the skip of a check whose failures quarantines let
// through: skipped, not failed, so that CI's checks stay green while every
// JUnit reader still counts and shows it (docs/ci.md, Quarantine); the
// text holds the failures.
func quarantined(results []verify.Result) *junitMessage {
	var q *verify.Quarantine
	for _, r := range results {
		if r.Quarantined() {
			q = r.Quarantine
			break
		}
	}
	return &junitMessage{
		Message: fmt.Sprintf("quarantined: %s (until %s)", q.Reason, q.Until),
		Type:    "quarantined",
		Text:    fmt.Sprintf("let through by %s until %s:\n%v", q.Where, q.Until, verify.Err(results)),
	}
}

// earlierAttempts are a check's failed attempts before each node's last,
// one element per attempt that failed on some node, naming those nodes.
func earlierAttempts(results []verify.Result) []junitAttempt {
	var byAttempt [][]error
	for _, r := range results {
		for i, a := range r.Attempts[:max(len(r.Attempts)-1, 0)] {
			for len(byAttempt) <= i {
				byAttempt = append(byAttempt, nil)
			}
			if a.Err != nil {
				byAttempt[i] = append(byAttempt[i], fmt.Errorf("%s on %s: %w", r.Check, r.Node, a.Err))
			}
		}
	}
	var out []junitAttempt
	for i, errs := range byAttempt {
		if len(errs) == 0 {
			continue
		}
		m := junitError("check", errors.Join(errs...))
		out = append(out, junitAttempt{Message: fmt.Sprintf("attempt %d: %s", i+1, m.Message), Type: m.Type, StackTrace: m.Text})
	}
	return out
}
