package harness

import (
	"cmp"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/drivelab/drivelab/framework/report"
	"github.com/drivelab/drivelab/framework/verify"
)

// HTMLReport is the report page's name in an artifacts folder.
const HTMLReport = "index.html"

// WriteHTMLReport writes dir/index.html, the report page of outcomes (one
// section each, read with its artifacts folder: Outcome.ArtifactsDir), and
// returns its path. Run.Report writes a run's own; the suite writes one
// for all the scenarios of a `make e2e` at its artifacts root.
func WriteHTMLReport(dir, title string, outcomes []Outcome) (string, error) {
	path := filepath.Join(dir, HTMLReport)
	if err := report.Write(path, ReportPage(dir, title, outcomes)); err != nil {
		return "", fmt.Errorf("%w; verdict.txt and junit.xml in %s still hold the verdict", err, dir)
	}
	return path, nil
}

// ReportPage is outcomes as the report page in folder dir (links are
// relative to it): what WriteHTMLReport writes and GitHub is told.
func ReportPage(dir, title string, outcomes []Outcome) report.Page {
	p := report.Page{Title: title}
	for _, o := range outcomes {
		p.Sections = append(p.Sections, reportSection(dir, o))
	}
	return p
}

// reportSection is o's section of the page in pageDir.
func reportSection(pageDir string, o Outcome) report.Section {
	s := report.Section{Scenario: o.Scenario, Host: o.remote(), Run: o.Run.String(), Checks: o.Checks, Skipped: o.Skipped, Settings: settings(o), Status: report.Pass}
	switch {
	case o.Skipped != "":
		s.Status = report.Skip
	case o.Failed():
		s.Status = report.Fail
	}
	// The nodes whose logs explain the failure.
	var suspects []string
	switch {
	case o.Verdict == nil && o.Err != nil:
		s.UpError = o.Err.Error()
		s.Failures = upFailures(o.Err)
		suspects = guilty(o, s.UpError)
	case o.Verdict != nil:
		s.Failures = checkFailures(o.Verdict)
		for _, f := range s.Failures {
			if !slices.Contains(suspects, f.Node) {
				suspects = append(suspects, f.Node)
			}
		}
		s.Rows = verdictRows(o)
	}
	dir := o.ArtifactsDir
	if dir == "" {
		return s
	}
	if rel := relative(pageDir, dir); rel != "." {
		s.Folder = rel
	}
	for _, node := range suspects {
		if e := evidence(o, node, pageDir); len(e.Logs) > 0 {
			s.Evidence = append(s.Evidence, e)
		}
	}
	if svg, err := os.ReadFile(filepath.Join(dir, "timeline.svg")); err == nil {
		s.Timeline = svg
	}
	s.Golden = readGoldenDiff(filepath.Join(dir, goldenDiffFile))
	return s
}

// verdictRows are the verdict table: a row per node, a cell per check.
func verdictRows(o Outcome) []report.Row {
	byCell := map[[2]string]verify.Result{}
	ran := map[string]bool{}
	for _, r := range o.Verdict.Results() {
		byCell[[2]string{r.Node, r.Check}] = r
		ran[r.Check] = true
	}
	var rows []report.Row
	for _, node := range o.Verdict.Nodes() {
		row := report.Row{Node: node}
		for _, check := range o.Checks {
			c := report.Cell{Check: check, Status: report.NotApplicable}
			r, ok := byCell[[2]string{node, check}]
			switch {
			case !ran[check]:
				c.Status = report.Skip
			case ok && r.Quarantined():
				c.Status, c.Elapsed = report.Quarantined, r.Elapsed
			case ok && r.Err != nil:
				c.Status, c.Elapsed = report.Fail, r.Elapsed
			case ok && r.Flaky():
				c.Status, c.Elapsed = report.Flaky, r.Elapsed
			case ok:
				c.Status, c.Elapsed = report.Pass, r.Elapsed
			}
			row.Cells = append(row.Cells, c)
		}
		rows = append(rows, row)
	}
	return rows
}

// checkFailures are the verdict's failed checks, each at the file and line
// its message names, if any.
func checkFailures(v *verify.Verdict) []report.Failure {
	var out []report.Failure
	for _, r := range v.Results() {
		f := report.Failure{Node: r.Node, Check: r.Check, Status: report.Fail}
		switch {
		case r.Quarantined():
			q := r.Quarantine
			f.Status, f.Message = report.Quarantined, fmt.Sprintf("let through until %s (%s; %s):\n%s", q.Until, q.Reason, q.Where, r.Err)
		case r.Err != nil:
			f.Message = r.Failure().Error()
		case r.Flaky():
			f.Status, f.Message = report.Flaky, fmt.Sprintf("failed %d time(s), then passed; the first failure:\n%s", len(r.Attempts)-1, r.FirstFailure())
		default:
			continue
		}
		for _, line := range strings.Split(f.Message, "\n") {
			if _, file, n, _, ok := locate(line); ok {
				f.File, f.Line = file, n
				break
			}
		}
		out = append(out, f)
	}
	return out
}

// located is a message line that names a file and maybe a line: how
// lint's problems (lint.Problem.String) and rendering errors (render.Error)
// read, "node web01: fixtures/templates/debian12/hosts.tmpl:3: message".
var located = regexp.MustCompile(`^(?:node ([^\s:]+): )?([^\s:]*[./][^\s:]*)(?::(\d+))?: (.+)$`)

// locate reads line as a located problem; ok only when the file exists, so
// that an address such as 192.168.100.25:22 is never taken for a file; n
// is 0 when the line names no line. file is absolute: the message's path
// is relative to this process's folder, an annotation's to the checkout.
func locate(line string) (node, file string, n int, message string, ok bool) {
	m := located.FindStringSubmatch(strings.TrimSpace(line))
	if m == nil {
		return "", "", 0, "", false
	}
	if st, err := os.Stat(m[2]); err != nil || !st.Mode().IsRegular() {
		return "", "", 0, "", false
	}
	abs, err := filepath.Abs(m[2])
	if err != nil {
		return "", "", 0, "", false
	}
	n, _ = strconv.Atoi(m[3])
	return m[1], abs, n, m[4], true
}

// upFailures are the problems an up error lists at a file and line (lint's,
// one a line), or else the error whole.
func upFailures(err error) []report.Failure {
	var out []report.Failure
	for _, line := range strings.Split(err.Error(), "\n") {
		if node, file, n, message, ok := locate(line); ok {
			out = append(out, report.Failure{Node: node, Check: upCase, File: file, Line: n, Message: message})
		}
	}
	if len(out) == 0 {
		out = append(out, report.Failure{Check: upCase, Message: err.Error()})
	}
	return out
}

// guilty are the nodes an up error names, among those that left a console;
// every one of them when it names none.
func guilty(o Outcome, upError string) []string {
	if o.Run == "" || o.ArtifactsDir == "" {
		return nil
	}
	consoles, _ := filepath.Glob(o.Run.ConsoleLog(o.ArtifactsDir, "*"))
	prefix, suffix, _ := strings.Cut(filepath.Base(o.Run.ConsoleLog(o.ArtifactsDir, "\x00")), "\x00")
	var all, named []string
	for _, c := range consoles {
		node := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(c), prefix), suffix)
		all = append(all, node)
		if regexp.MustCompile(`\b` + regexp.QuoteMeta(node) + `\b`).MatchString(upError) {
			named = append(named, node)
		}
	}
	if len(named) > 0 {
		return named
	}
	return all
}

// nodeLogs are the logs the report cuts for a failed node: its console,
// then what Collect read from it after a failure (nodeDiagnostics).
var nodeLogs = []string{"cloud-init.log", "cloud-init-output.log"}

// evidence is node's logs, each cut to the lines around the cause.
func evidence(o Outcome, node, pageDir string) report.NodeEvidence {
	e := report.NodeEvidence{Node: node}
	files := []string{o.Run.ConsoleLog(o.ArtifactsDir, node)}
	names := []string{"console"}
	for _, f := range nodeLogs {
		files = append(files, filepath.Join(o.ArtifactsDir, node, f))
		names = append(names, f)
	}
	for i, file := range files {
		text, cut, err := readTail(file, maxLog)
		if err != nil {
			continue
		}
		if cut > 0 {
			names[i] += fmt.Sprintf(" (its last %d MiB)", maxLog>>20)
		}
		lines, causes, total := report.Excerpt(text)
		e.Logs = append(e.Logs, report.Log{Name: names[i], Path: relative(pageDir, file), Lines: lines, Causes: causes, Total: total})
	}
	return e
}

// maxLog bounds what the report reads of one log: a console that filled
// with a loop's output must not stall or bloat it.
const maxLog = 8 << 20

// readTail is the file's last limit bytes, and how many bytes came before.
func readTail(path string, limit int64) (string, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		return "", 0, cmp.Or(err, fmt.Errorf("%s is not a regular file", path))
	}
	cut := max(st.Size()-limit, 0)
	b, err := io.ReadAll(io.NewSectionReader(f, cut, limit))
	return string(b), cut, err
}

// relative is file as a link from folder dir, or file when it is not below it.
func relative(dir, file string) string {
	if rel, err := filepath.Rel(dir, file); err == nil {
		return filepath.ToSlash(rel)
	}
	return filepath.ToSlash(file)
}

// settingNames are the properties' names as people read them.
var settingNames = map[string]string{
	"accel":          "accelerator",
	"boot_path":      "boot path",
	"host_cores":     "host cores",
	"guest_vcpus":    "guest vCPUs",
	"deadline_scale": "deadline scale",
}

// settings are the run's facts for the page's header: the libvirt host
// it ran on when not this one, its properties (RunProperties and what the
// caller added: flavor, shard, commit) and the host that wrote it.
func settings(o Outcome) []report.Setting {
	var out []report.Setting
	if host := o.remote(); host != "" {
		out = append(out, report.Setting{Name: "libvirt host", Value: host})
	}
	for _, p := range o.Properties {
		name := strings.TrimPrefix(p.Name, o.Scenario+".")
		if node, what, ok := strings.Cut(name, "."); ok {
			name = node + " " + what
		}
		out = append(out, report.Setting{Name: cmp.Or(settingNames[name], name), Value: p.Value})
	}
	if !slices.ContainsFunc(out, func(s report.Setting) bool { return s.Name == "host" }) {
		if host, err := os.Hostname(); err == nil {
			out = append(out, report.Setting{Name: "host", Value: host})
		}
	}
	return out
}

// Commit is the checkout's commit that dir is in, "-dirty" when tracked
// files differ from it, or "" when git cannot tell: a setting of the run
// for its reports.
func Commit(dir string) string {
	head, err := exec.Command("git", "-C", dir, "rev-parse", "--short=12", "HEAD").Output()
	if err != nil {
		return ""
	}
	commit := strings.TrimSpace(string(head))
	if changed, err := exec.Command("git", "-C", dir, "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(changed) > 0 {
		commit += "-dirty"
	}
	return commit
}
