// Package lint checks a topology's rendered drives before anything boots:
// every template renders, JSON is valid, /etc/hosts is the same everywhere
// and lists every node, user_data is a script (that bash -n accepts) or
// cloud-config, haproxy.cfg passes `haproxy -c`, balances over the
// topology's web nodes and serves where the checks ask. Every fact the
// topology determines is read back the way the guest reads it: the network
// configuration through the host's cloud-init (address, prefix, gateway,
// MAC), every cloud-config through cloud-init's schema, meta_data's hostname
// and uuid, root's password, the web page's name. Every problem names the
// node, the template file and, where it can, the line.
package lint

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"

	"github.com/drivelab/drivelab/framework/configdrive"
	"github.com/drivelab/drivelab/framework/render"
	"github.com/drivelab/drivelab/framework/sshx"
	"github.com/drivelab/drivelab/framework/topology"
)

// Problem is one finding.
type Problem struct {
	Node string // "" when not a node's
	File string // template (or other) file; "" when unknown
	Line int    // line in File; 0 when unknown
	Msg  string
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
	b.WriteString(p.Msg)
	return b.String()
}

// Report is the outcome of a lint run.
type Report struct {
	Problems []Problem
	// Warnings do not fail lint but will fail a later stage (a deprecated
	// cloud-config key passes `cloud-init schema`, yet the guest logs a
	// WARNING for it, which first-boot refuses).
	Warnings []Problem
	// Skipped names checks that could not run, and why; they did not pass.
	Skipped []string
}

// Err is nil when there are no problems, else one error listing them all.
func (r Report) Err() error {
	if len(r.Problems) == 0 {
		return nil
	}
	lines := make([]string, len(r.Problems))
	for i, p := range r.Problems {
		lines[i] = p.String()
	}
	return fmt.Errorf("%d problem(s):\n%s", len(lines), strings.Join(lines, "\n"))
}

type linter struct {
	Report
	topo    *topology.Topology
	sources map[string][]string // template file -> lines, for line mapping
}

func (l *linter) add(node, file string, line int, format string, args ...any) {
	l.Problems = append(l.Problems, Problem{Node: node, File: file, Line: line, Msg: fmt.Sprintf(format, args...)})
}

// Run renders in (Access is ignored: lint checks what the templates say) and
// checks the drives.
//
// vendor_data is the harness's, rendered with a throwaway key pair: its shape
// is what matters, and no real key ever passes through lint.
func Run(ctx context.Context, in render.Input) Report {
	in.Access = nil
	l := &linter{topo: in.Topology, sources: map[string][]string{}}
	if in.Topology != nil {
		access, err := throwawayAccess(in.Topology)
		if err != nil {
			l.add("", "", 0, "lint: %v", err)
			return l.Report
		}
		in.Access = access
	}
	drives, err := render.Render(ctx, in)
	l.renderErrors(err)
	if ctx.Err() != nil {
		return l.Report
	}
	for _, d := range drives {
		if l.json(d) {
			if err := configdrive.Check(d); err != nil {
				for _, e := range flatten(err) {
					msg := strings.TrimPrefix(e.Error(), "node "+d.Node.Name+": ")
					drivePath, _, _ := strings.Cut(msg, " ")
					l.add(d.Node.Name, d.Templates[drivePath], 0, "%s", msg)
				}
			}
		}
		l.userData(ctx, d)
		l.metaFacts(d)
		l.passwordFacts(d)
		l.pageFacts(d)
	}
	l.guest(ctx, drives)
	if in.Topology != nil && len(drives) == len(in.Topology.Nodes) {
		// Comparing hosts files needs every node's.
		l.hosts(drives)
	}
	for _, d := range drives {
		l.haproxy(ctx, d)
	}
	return l.Report
}

// throwawayAccess is an access of one fresh key pair for every node.
func throwawayAccess(t *topology.Topology) (*render.Access, error) {
	k, err := sshx.NewKeyPair("drivelab-lint")
	if err != nil {
		return nil, err
	}
	a := &render.Access{AuthorizedKeys: []string{k.AuthorizedKey}, HostKeys: map[string]render.HostKey{}}
	for _, n := range t.Nodes {
		a.HostKeys[n.Name] = render.HostKey{Private: k.PrivateOpenSSH, Public: k.AuthorizedKey}
	}
	return a, nil
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

func (l *linter) renderErrors(err error) {
	for _, e := range flatten(err) {
		var re *render.Error
		if errors.As(e, &re) {
			l.add(re.Node, re.File, re.Line, "%v", re.Err)
		} else {
			l.add("", "", 0, "%v", e)
		}
	}
}

// json reports files that are not JSON, at the template line where they break.
func (l *linter) json(d render.Drive) bool {
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
		l.atRendered(d, f.Path, line, "%s is not valid JSON: %v", f.Path, err)
	}
	return ok
}

func (l *linter) userData(ctx context.Context, d render.Drive) {
	first, _, _ := bytes.Cut(d.UserData, []byte("\n"))
	if !bytes.HasPrefix(first, []byte("#!")) && !bytes.Equal(bytes.TrimSpace(first), []byte("#cloud-config")) {
		l.atRendered(d, render.UserDataPath, 1, "user_data starts with %q; cloud-init runs it only if it starts with #! (a script) or #cloud-config", first)
		return
	}
	if shell := string(first); strings.HasSuffix(shell, "/bash") || strings.HasSuffix(shell, "/sh") {
		l.shellSyntax(ctx, d)
	}
}

// bashErrorRE matches `bash -n FILE`'s "FILE: line N: message".
var bashErrorRE = regexp.MustCompile(`^.*?: line (\d+): (.*)$`)

// shellSyntax runs `bash -n` on a user_data script: a syntax error would
// otherwise show only in the guest's cloud-init log, minutes into a boot.
func (l *linter) shellSyntax(ctx context.Context, d render.Drive) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		l.skip("bash -n: bash is not on PATH")
		return
	}
	f, err := os.CreateTemp("", "drivelab-user-data-")
	if err != nil {
		l.add(d.Node.Name, "", 0, "bash -n: %v", err)
		return
	}
	defer os.Remove(f.Name())
	_, err = f.Write(d.UserData)
	if err = errors.Join(err, f.Close()); err != nil {
		l.add(d.Node.Name, "", 0, "bash -n: %v", err)
		return
	}
	out, err := exec.CommandContext(ctx, bash, "-n", f.Name()).CombinedOutput()
	if err == nil {
		return
	}
	reported := false
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if m := bashErrorRE.FindStringSubmatch(line); m != nil && !strings.HasPrefix(m[2], "`") {
			n, _ := strconv.Atoi(m[1])
			l.atRendered(d, render.UserDataPath, n, "bash -n: %s", m[2])
			reported = true
		}
	}
	if !reported {
		l.add(d.Node.Name, d.Templates[render.UserDataPath], 0, "bash -n rejects user_data: %v\n%s", err, out)
	}
}

// atRendered adds a problem about line n (1-based; 0 unknown) of a rendered
// drive file, located in the template it came from when that line can be found.
func (l *linter) atRendered(d render.Drive, drivePath string, n int, format string, args ...any) {
	file := d.Templates[drivePath]
	msg := fmt.Sprintf(format, args...)
	data := fileData(d, drivePath)
	lines := strings.Split(string(data), "\n")
	if n < 1 || n > len(lines) {
		if file == "" {
			file = drivePath // rendered by the harness, not from a template
		}
		l.add(d.Node.Name, file, 0, "%s", msg)
		return
	}
	text := lines[n-1]
	if file == "" {
		l.add(d.Node.Name, drivePath, n, "%s", msg)
		return
	}
	tl := l.templateLine(file, text)
	if tl == 0 {
		msg += fmt.Sprintf(" (rendered line %d: %q)", n, text)
	}
	l.add(d.Node.Name, file, tl, "%s", msg)
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
func (l *linter) templateLine(file, rendered string) int {
	src, ok := l.sources[file]
	if !ok {
		data, _ := os.ReadFile(file)
		src = strings.Split(string(data), "\n")
		l.sources[file] = src
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
