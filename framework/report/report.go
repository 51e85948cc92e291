// Package report renders a run's HTML page (artifacts/<run>/index.html) and
// tells GitHub Actions about its failures (github.go). It knows pages, not
// runs: framework/harness/htmlreport.go fills a Page from the harness's
// outcomes and artifacts folders. The page is one file that works offline
// and from an uploaded artifact: inline CSS, the timeline picture as a
// data: URL, no script, nothing fetched.
package report

import (
	"bytes"
	"cmp"
	_ "embed"
	"encoding/base64"
	"fmt"
	"html/template"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/drivelab/drivelab/framework/atomicfile"
)

// Status is a verdict: of a page, a scenario or one node's check.
type Status string

const (
	Pass Status = "pass"
	Fail Status = "fail"
	Skip Status = "skip"
	// NotApplicable is a check that does not apply to the node (its roles).
	NotApplicable Status = "n/a"
	// Flaky is a check that failed, then passed when run again (E2E_RERUN);
	// Quarantined one whose failure a quarantine entry lets through. Neither
	// fails the page, and both keep their failure on it.
	Flaky       Status = "flaky"
	Quarantined Status = "quarantined"
)

// Page is one HTML report: one run's, or one `make e2e`'s with a section
// per scenario.
type Page struct {
	// Title names what the page reports: a run id, or the RUN folder of a
	// `make e2e`.
	Title    string
	Sections []Section
}

// Status is the page's verdict: fail when a section failed, pass when one
// passed and none failed, skip when nothing ran.
func (p Page) Status() Status {
	status := Skip
	for _, s := range p.Sections {
		switch s.Status {
		case Fail:
			return Fail
		case Pass:
			status = Pass
		}
	}
	return status
}

// Hosts are the libvirt hosts the sections that ran used, each once in
// the sections' order, "local" for this machine's own: the page lists
// them when there are several. A skipped section ran nowhere.
func (p Page) Hosts() []string {
	var out []string
	for _, s := range p.Sections {
		host := cmp.Or(s.Host, "local")
		if s.Status != Skip && !slices.Contains(out, host) {
			out = append(out, host)
		}
	}
	return out
}

// Name is how CI names the section's scenario: scenario@host when it ran
// on another host than this (as the JUnit classname), else the scenario.
func (s Section) Name() string {
	if s.Host != "" {
		return s.Scenario + "@" + s.Host
	}
	return s.Scenario
}

// Section is one scenario's run.
type Section struct {
	Scenario string
	// Host is the libvirt host the scenario ran on; "" for this machine's
	// own, which the page does not name.
	Host string
	// Run is the run id, "" when the scenario did not start one.
	Run string
	// Folder is the scenario's artifacts folder, relative to the page; ""
	// when it is the page's own.
	Folder string
	Status Status
	// Skipped says why the scenario did not run.
	Skipped  string
	Settings []Setting
	// UpError is why the scenario never reached its checks (lint,
	// admission, network, boot, SSH); "" when it did.
	UpError string
	// Failures are every failure as CI annotates it: each failed check on
	// each node; for an up failure each problem it lists at a file and
	// line, or the error whole.
	Failures []Failure
	// Evidence are the logs of the nodes that failed (or that the up error
	// names), cut to the lines around the cause.
	Evidence []NodeEvidence
	// Checks are the verdict table's columns, Rows its rows; no rows when
	// no check ran.
	Checks []string
	Rows   []Row
	// Timeline is the boot's timeline picture (SVG); nil when nothing booted.
	Timeline []byte
	// Golden is how the run's drives differ from the golden listing; nil
	// when they were not compared.
	Golden *Diff
}

// Setting is one fact of the run: accelerator, boot path, host, commit...
type Setting struct{ Name, Value string }

// Row is one node's line of the verdict table, a cell per check.
type Row struct {
	Node  string
	Cells []Cell
}

// Cell is one check on one node.
type Cell struct {
	Check   string
	Status  Status
	Elapsed time.Duration
}

// Failure is one failed check on one node, or a reason the scenario never
// reached its checks (Check "up").
type Failure struct {
	Node, Check string
	// Status is Fail, or Flaky (Message is the first failure) or
	// Quarantined (Message says why it is let through, then the failure).
	Status Status
	// Message is the error whole: what was expected and found, and for a
	// remote command the command and its output.
	Message string
	// File and Line locate the failure in a template or topology when it
	// names one that exists; "" and 0 otherwise.
	File string
	Line int
}

// Title is how CI names the failure: scenario/node/check.
func (f Failure) Title(scenario string) string {
	parts := []string{scenario}
	if f.Node != "" {
		parts = append(parts, f.Node)
	}
	return strings.Join(append(parts, f.Check), "/")
}

// Summary is the message's first line.
func (f Failure) Summary() string {
	first, _, _ := strings.Cut(f.Message, "\n")
	return first
}

// NodeEvidence are one node's logs around a failure.
type NodeEvidence struct {
	Node string
	Logs []Log
}

// Log is an excerpt of one log file (Excerpt).
type Log struct {
	// Name says what the log is ("console"); Path links the whole file,
	// relative to the page.
	Name, Path string
	Lines      []Line
	// Causes counts the lines that look like a cause; Total the file's lines.
	Causes, Total int
}

// Diff is a unified diff of the run's drive listing against a golden one.
type Diff struct {
	// Against names the golden listing, Text is the diff (without its header).
	Against string
	Text    string
}

// Lines are the diff's lines, each with its kind: "add", "del", "hunk" or "".
func (d Diff) Lines() []DiffLine {
	var out []DiffLine
	for _, l := range strings.Split(strings.TrimSuffix(d.Text, "\n"), "\n") {
		kind := ""
		switch {
		case strings.HasPrefix(l, "@@"):
			kind = "hunk"
		case strings.HasPrefix(l, "+"):
			kind = "add"
		case strings.HasPrefix(l, "-"):
			kind = "del"
		}
		out = append(out, DiffLine{Kind: kind, Text: l})
	}
	return out
}

// DiffLine is one line of a Diff.
type DiffLine struct{ Kind, Text string }

//go:embed page.html.tmpl
var pageTemplate string

// page is parsed once; html/template escapes every value it is given by
// where it lands (text, attribute, URL), so a log line with markup in it is
// shown, never run.
var page = template.Must(template.New("page").Funcs(template.FuncMap{
	"anchor": anchor,
	// class is a status as a CSS class ("n/a" is not one).
	"class":   func(s Status) string { return strings.ReplaceAll(string(s), "/", "") },
	"seconds": func(d time.Duration) string { return fmt.Sprintf("%.1fs", d.Seconds()) },
	"svgURL": func(svg []byte) template.URL {
		// An <img> of a data: URL shows the picture and cannot run or fetch
		// anything the SVG might hold.
		return template.URL("data:image/svg+xml;base64," + base64.StdEncoding.EncodeToString(svg))
	},
	"slowest": slowest,
	"upper":   func(s Status) string { return strings.ToUpper(string(s)) },
}).Parse(pageTemplate))

// HTML is the page as one self-contained HTML document.
func HTML(p Page) ([]byte, error) {
	var b bytes.Buffer
	if err := page.Execute(&b, p); err != nil {
		return nil, fmt.Errorf("report: rendering the page %q: %w", p.Title, err)
	}
	return b.Bytes(), nil
}

// Write writes the page to path, whole or not at all.
func Write(path string, p Page) error {
	b, err := HTML(p)
	if err != nil {
		return err
	}
	return atomicfile.Write(path, b, 0o644)
}

var notAnchor = regexp.MustCompile(`[^a-z0-9]+`)

// anchor is an element id made of parts (scenario, node, check), the same
// in the id and in a link to it.
func anchor(parts ...string) string {
	return notAnchor.ReplaceAllString(strings.ToLower(strings.Join(parts, "-")), "-")
}

// slowest is each check's slowest node in the rows, in check order.
func slowest(checks []string, rows []Row) []time.Duration {
	out := make([]time.Duration, len(checks))
	for _, r := range rows {
		for i, c := range r.Cells {
			if i < len(out) {
				out[i] = max(out[i], c.Elapsed)
			}
		}
	}
	return out
}
