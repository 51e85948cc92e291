// Package lint checks a topology's rendered drives before anything boots:
// every template renders, JSON is valid, /etc/hosts is the same everywhere
// and lists every node. Every drive is read the way the guest reads it,
// through the host's cloud-init: its ConfigDrive reader, its user-data
// processor (each part as its handler takes it, scripts checked by the
// shell that runs them, the cloud-configs merged and schema-checked, then
// merged over vendor_data, which must keep the harness's access), and its
// network readers (address, prefix, gateway, MAC). Every fact the topology
// determines is read back: meta_data's hostname and uuid, root's password
// (a hash through crypt). A scenario adds
// checks of its own services as Rules (the load balancer's are in
// scenarios/). Every problem names the node, the template file and, where
// it can, the line.
//
// Lint reads the result of the run's one rendering (render.Render), the
// drives exactly as they boot; it renders nothing itself.
package lint

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"

	"github.com/drivelab/drivelab/framework/configdrive"
	"github.com/drivelab/drivelab/framework/render"
	"github.com/drivelab/drivelab/framework/topology"
)

// Severity says whether a problem fails lint.
type Severity int

const (
	// SeverityError fails lint: the drive would not do what the topology says.
	SeverityError Severity = iota
	// SeverityWarning does not fail lint but will fail a later stage (a
	// deprecated cloud-config key passes `cloud-init schema`, yet the guest
	// logs a WARNING for it, which first-boot refuses).
	SeverityWarning
)

func (s Severity) String() string {
	if s == SeverityWarning {
		return "warning"
	}
	return "error"
}

// Problem is one finding, located where a user fixes it.
type Problem struct {
	Node string // "" when not a node's
	File string // template (or other) file; "" when unknown
	Line int    // line in File; 0 when unknown
	// Message says what is wrong and, where it can, the fix.
	Message  string
	Severity Severity
}

func (p Problem) String() string {
	var b strings.Builder
	if p.Node != "" {
		fmt.Fprintf(&b, "node %s: ", p.Node)
	}
	if p.File != "" {
		b.WriteString(p.File)
		if p.Line > 0 {
			fmt.Fprintf(&b, ":%d", p.Line)
		}
		b.WriteString(": ")
	}
	b.WriteString(p.Message)
	return b.String()
}

// Report is the outcome of a lint run.
type Report struct {
	// Problems are every finding, errors and warnings, in the order found.
	Problems []Problem
	// Skipped names checks that could not run, and why; they did not pass.
	Skipped []string
	// SelectedVersions maps each node to the metadata version folder the
	// host's cloud-init reader selected on its drive ("latest" when the
	// drive has no dated folder it knows): what the guest will read.
	SelectedVersions map[string]string
}

// Errors are the problems that fail lint.
func (r Report) Errors() []Problem { return r.bySeverity(SeverityError) }

// Warnings are the problems that do not fail lint.
func (r Report) Warnings() []Problem { return r.bySeverity(SeverityWarning) }

func (r Report) bySeverity(s Severity) []Problem {
	var out []Problem
	for _, p := range r.Problems {
		if p.Severity == s {
			out = append(out, p)
		}
	}
	return out
}

// Err is nil when no problem fails lint, else one error listing them all.
func (r Report) Err() error {
	errs := r.Errors()
	if len(errs) == 0 {
		return nil
	}
	lines := make([]string, len(errs))
	for i, p := range errs {
		lines[i] = p.String()
	}
	return fmt.Errorf("%d problem(s):\n%s", len(lines), strings.Join(lines, "\n"))
}

// Input is what a lint run checks.
type Input struct {
	// Rendered is render.Render's result and RenderErr its error: lint
	// reports the rendering's problems and checks every drive that rendered.
	Rendered  *render.Result
	RenderErr error
	// Rules are checks a scenario adds for its own services; they run after
	// lint's own, on the same drives.
	Rules []Rule
}

// Rule is one check over the rendered drives; it reports through p.
type Rule func(ctx context.Context, p *Pass)

// Pass is one lint run as a Rule sees it: the drives, and the way to
// report what is wrong with them.
type Pass struct {
	Topology *topology.Topology
	// Drives are the drives of the nodes that rendered completely.
	Drives []render.Drive
	// Complete is true when every node's drive rendered (checks that
	// compare nodes need them all).
	Complete bool
	report   Report
	sources  map[string][]string // template file -> lines, for line mapping
	// cloudInit is the host cloud-init's version, once it has answered.
	cloudInit string
}

// Report adds a problem as it is.
func (p *Pass) Report(pr Problem) { p.report.Problems = append(p.report.Problems, pr) }

// Reportf adds an error about line n (1-based; 0 unknown) of drivePath in
// drive d, located in the template line that rendered it when exactly one
// does (else the rendered line is quoted).
func (p *Pass) Reportf(d render.Drive, drivePath string, n int, format string, args ...any) {
	p.Report(p.at(d, drivePath, n, fmt.Sprintf(format, args...)))
}

// Skip records a check that could not run (a missing tool), once.
func (p *Pass) Skip(why string) {
	for _, s := range p.report.Skipped {
		if s == why {
			return
		}
	}
	p.report.Skipped = append(p.report.Skipped, why)
}

func (p *Pass) add(node, file string, line int, format string, args ...any) {
	p.Report(Problem{Node: node, File: file, Line: line, Message: fmt.Sprintf(format, args...)})
}

// Run checks in's drives: lint's own rules, then in.Rules. Messages never
// carry a private key the drives hold (the run's host keys are in
// vendor_data): any line of one is replaced by render.RedactedKey.
func Run(ctx context.Context, in Input) Report {
	res := in.Rendered
	if res == nil {
		res = &render.Result{}
	}
	p := &Pass{Topology: res.Topology, Drives: res.Drives, Complete: res.Complete(), sources: map[string][]string{}}
	p.renderErrors(in.RenderErr)
	if ctx.Err() == nil && p.Topology != nil {
		p.check(ctx, in.Rules)
	}
	redact := res.Redactor()
	for i := range p.report.Problems {
		p.report.Problems[i].Message = redact.Replace(p.report.Problems[i].Message)
	}
	return p.report
}

// check runs lint's own rules, then rules. cloud-init's view of every drive
// comes first: what user_data's parts are, and the checks of each drive
// read them.
func (p *Pass) check(ctx context.Context, rules []Rule) {
	views := p.guest(ctx, p.Drives)
	for _, d := range p.Drives {
		if p.json(d) {
			p.driveErrors(d, configdrive.Check(d))
		}
		v := views[d.Node.Name]
		if v != nil && v.SelectedVersion != "" {
			if p.report.SelectedVersions == nil {
				p.report.SelectedVersions = map[string]string{}
			}
			p.report.SelectedVersions[d.Node.Name] = v.SelectedVersion
		}
		p.driveReader(d, v)
		p.selectedFolder(d, v)
		parts := p.userData(ctx, d, v)
		p.metaFacts(d)
		p.passwordFacts(d, parts, v)
		p.devicePaths(d, parts)
	}
	if p.Complete {
		// Comparing hosts files needs every node's.
		p.hosts(p.Drives)
	}
	for _, rule := range rules {
		if ctx.Err() != nil {
			return
		}
		rule(ctx, p)
	}
}

func flatten(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, flatten(e)...)
		}
		return out
	}
	if err == nil {
		return nil
	}
	return []error{err}
}

func (p *Pass) renderErrors(err error) {
	for _, e := range flatten(err) {
		var re *render.Error
		if errors.As(e, &re) {
			p.add(re.Node, re.File, re.Line, "%v", re.Err)
		} else {
			p.add("", "", 0, "%v", e)
		}
	}
}

// driveErrors reports configdrive.Check's problems in the template that
// rendered the file at fault.
func (p *Pass) driveErrors(d render.Drive, err error) {
	for _, e := range flatten(err) {
		var ce *configdrive.Error
		switch {
		case !errors.As(e, &ce):
			p.add(d.Node.Name, "", 0, "%v", e)
		case ce.Line > 0:
			p.Reportf(d, ce.Path, ce.Line, "%s", ce.Msg)
		default:
			p.add(d.Node.Name, d.Templates[ce.Path], 0, "%s", ce.Msg)
		}
	}
}

// json reports files that are not JSON, at the template line where they break.
func (p *Pass) json(d render.Drive) bool {
	ok := true
	for _, f := range d.Files() {
		if !strings.HasSuffix(f.Path, ".json") {
			continue
		}
		var v any
		err := json.Unmarshal(f.Data, &v)
		if err == nil {
			continue
		}
		ok = false
		line := 0
		var se *json.SyntaxError
		if errors.As(err, &se) {
			line = bytes.Count(f.Data[:min(int(se.Offset), len(f.Data))], []byte("\n")) + 1
		}
		p.Reportf(d, f.Path, line, "%s is not valid JSON: %v", f.Path, err)
	}
	return ok
}

// at locates a message about line n (1-based; 0 unknown) of a rendered
// drive file in the template it came from, when that line can be found.
func (p *Pass) at(d render.Drive, drivePath string, n int, msg string) Problem {
	pr := Problem{Node: d.Node.Name, File: d.Templates[drivePath], Message: msg}
	lines := strings.Split(string(fileData(d, drivePath)), "\n")
	switch {
	case n < 1 || n > len(lines):
		if pr.File == "" {
			pr.File = drivePath // rendered by the harness, not from a template
		}
	case pr.File == "":
		pr.File, pr.Line = drivePath, n
	default:
		text := lines[n-1]
		if pr.Line = p.templateLine(pr.File, text); pr.Line == 0 {
			pr.Message += fmt.Sprintf(" (rendered line %d: %q)", n, text)
		}
	}
	return pr
}

func fileData(d render.Drive, drivePath string) []byte {
	for _, f := range d.Files() {
		if f.Path == drivePath {
			return f.Data
		}
	}
	return nil
}

// templateLine finds the one template line that produced a rendered line:
// an identical line, else a line whose actions, taken as wildcards, match.
// 0 when no single line does.
func (p *Pass) templateLine(file, rendered string) int {
	src, ok := p.sources[file]
	if !ok {
		data, _ := os.ReadFile(file)
		src = strings.Split(string(data), "\n")
		p.sources[file] = src
	}
	if n := uniqueLine(src, func(s string) bool { return s == rendered }); n > 0 {
		return n
	}
	return uniqueLine(src, func(s string) bool {
		re, ok := actionPattern(s)
		return ok && re.MatchString(rendered)
	})
}

func uniqueLine(lines []string, match func(string) bool) int {
	found := 0
	for i, s := range lines {
		if match(s) {
			if found > 0 {
				return 0
			}
			found = i + 1
		}
	}
	return found
}

// actionPattern turns a template line into a pattern of the lines it can
// render: its text literally, each {{action}} as any text. A line of actions
// only could render anything and gives no pattern.
func actionPattern(line string) (*regexp.Regexp, bool) {
	if !strings.Contains(line, "{{") {
		return nil, false
	}
	var b strings.Builder
	literal := ""
	b.WriteString("^")
	for rest := line; ; {
		i := strings.Index(rest, "{{")
		if i < 0 {
			b.WriteString(regexp.QuoteMeta(rest))
			literal += rest
			break
		}
		b.WriteString(regexp.QuoteMeta(rest[:i]) + ".*")
		literal += rest[:i]
		j := strings.Index(rest[i:], "}}")
		if j < 0 {
			break
		}
		rest = rest[i+j+2:]
	}
	b.WriteString("$")
	if strings.TrimSpace(literal) == "" {
		return nil, false
	}
	re, err := regexp.Compile(b.String())
	return re, err == nil
}
