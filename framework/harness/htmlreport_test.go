package harness_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/drivelab/drivelab/framework/harness"
	"github.com/drivelab/drivelab/framework/platform"
	"github.com/drivelab/drivelab/framework/platform/memory"
	"github.com/drivelab/drivelab/framework/profile"
	"github.com/drivelab/drivelab/framework/report"
	"github.com/drivelab/drivelab/framework/runid"
	"github.com/drivelab/drivelab/framework/verify"
)

// The report page (index.html) from outcomes made up here, in artifacts
// folders laid out as a run leaves them: a green run, a run whose checks
// failed, and a run that never came up. The page is parsed and read as a
// browser would; browser_test.go shows it in one.

var (
	reportNodes  = []string{"test2", "haproxy", "web01", "web02"}
	reportChecks = []string{"hostname", "leastconn", "firstboot"}
)

// consoleScript is a console line that would run if the page did not
// escape what it shows.
const consoleScript = `<script>alert("console")</script>`

// artifacts lays out dir as a run leaves it: every node's console (with
// extra lines for some), each named node's cloud-init.log, and the
// timeline picture.
func artifacts(t *testing.T, dir string, run runid.ID, consoles, cloudInit map[string]string) {
	t.Helper()
	write := func(path, text string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range reportNodes {
		var b strings.Builder
		for i := range 60 {
			fmt.Fprintf(&b, "[  %2d.000000] %s boot line %d\n", i, n, i)
		}
		write(run.ConsoleLog(dir, n), b.String()+consoles[n])
	}
	for n, log := range cloudInit {
		write(filepath.Join(dir, n, "cloud-init.log"), log)
	}
	p := &profile.Profile{}
	for i, n := range reportNodes {
		p.Nodes = append(p.Nodes, profile.Node{Name: n, Stages: []profile.Span{
			{Name: "kernel", StartS: float64(i), DurationS: 4}, {Name: "systemd", StartS: float64(i) + 4, DurationS: 6},
			{Name: "cloud-init:final", StartS: float64(i) + 10, DurationS: 9},
		}})
	}
	write(filepath.Join(dir, "timeline.svg"), string(p.SVG("run "+run.String()+": where the boot time went")))
}

// verdict judges the checks: leastconn applies to haproxy alone; failed
// maps "check node" to its error.
func verdict(failed map[string]error) *verify.Verdict {
	v := verify.NewVerdict(reportNodes)
	for _, c := range reportChecks {
		var results []verify.Result
		for _, n := range reportNodes {
			if c == "leastconn" && n != "haproxy" {
				continue
			}
			results = append(results, verify.Result{Check: c, Node: n, Err: failed[c+" "+n], Elapsed: 1500 * time.Millisecond})
		}
		v.Add(c, results)
	}
	return v
}

func boot() *platform.BootReport {
	b := &platform.BootReport{Accel: "kvm", Scale: platform.Scale{HostCores: 2, GuestVCPUs: 4, Factor: 1.5}}
	for _, n := range reportNodes {
		b.Nodes = append(b.Nodes, platform.NodeReport{Name: n, VCPUs: 1, Path: "cold"})
	}
	return b
}

func outcome(dir string, run runid.ID, v *verify.Verdict) harness.Outcome {
	b := boot()
	return harness.Outcome{
		Scenario: "loadbalancer", Checks: reportChecks, Verdict: v, Boot: b, Started: time.Now(), Elapsed: time.Minute,
		Properties: append(harness.RunProperties("loadbalancer", *b), harness.Property{Name: "commit", Value: "0123abcd"}),
		Run:        run, ArtifactsDir: dir,
	}
}

func greenOutcome(t *testing.T, dir string) harness.Outcome {
	run := runid.ID("20260101-000000-aaaa")
	artifacts(t, dir, run, nil, nil)
	return outcome(dir, run, verdict(nil))
}

// hostnameFailure is web02's failed hostname check: expected and actual.
const hostnameFailure = `hostname: expected "web02.cloud.org", actual "localhost"`

func checkFailureOutcome(t *testing.T, dir string) harness.Outcome {
	run := runid.ID("20260101-000000-bbbb")
	artifacts(t, dir, run,
		map[string]string{"web02": "[FAILED] Failed to start apache2.service - The Apache HTTP Server.\n" + consoleScript + "\nlast line of web02\n"},
		map[string]string{"web02": "2026-01-01 00:00:01,000 - util.py[DEBUG]: fine\n" +
			"2026-01-01 00:00:02,000 - util.py[WARNING]: Running module scripts_user failed\n" +
			"Traceback (most recent call last):\n  File \"cc_scripts_user.py\", line 3\n"})
	return outcome(dir, run, verdict(map[string]error{
		"hostname web02": errors.New(hostnameFailure),
		"firstboot web02": errors.New(`web02: "cat /run/cloud-init/result.json" exited 1: ` +
			"cat: /run/cloud-init/result.json: No such file or directory\n<b>not bold</b>"),
	}))
}

// upFailure is why the up-failure outcome never reached its checks.
const upFailure = `node web01 (domain dl-20260101-000000-cccc-web01): guest fault (kernel panic) on the console: "Kernel panic - not syncing: VFS: Unable to mount root fs"`

func upFailureOutcome(t *testing.T, dir string) harness.Outcome {
	run := runid.ID("20260101-000000-cccc")
	artifacts(t, dir, run, map[string]string{"web01": "Kernel panic - not syncing: VFS: Unable to mount root fs\n" + consoleScript + "\n"}, nil)
	o := harness.FailedUp("loadbalancer", []verify.Check{{Name: "hostname"}, {Name: "leastconn"}, {Name: "firstboot"}}, errors.New(upFailure), time.Now())
	o.Run, o.ArtifactsDir = run, dir
	return o
}

// page writes outcomes' report page into dir and parses it, failing the
// test unless it is well-formed.
func page(t *testing.T, dir string, outcomes ...harness.Outcome) (*html.Node, string) {
	t.Helper()
	path, err := harness.WriteHTMLReport(dir, "run test", outcomes)
	if err != nil {
		t.Fatal(err)
	}
	if path != filepath.Join(dir, "index.html") {
		t.Errorf("the page is %s, want %s", path, filepath.Join(dir, "index.html"))
	}
	return parsePage(t, path)
}

// parsePage parses the page at path, failing the test unless it is
// well-formed.
func parsePage(t *testing.T, path string) (*html.Node, string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := wellFormed(b); err != nil {
		t.Fatalf("%s is not well-formed: %v\n%s", path, err, b)
	}
	doc, err := html.Parse(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return doc, string(b)
}

// failuresShown is the text of the failures section of the page in dir.
func failuresShown(t *testing.T, dir string) string {
	t.Helper()
	doc, _ := parsePage(t, filepath.Join(dir, "index.html"))
	return text(find(doc, byClass("failures")))
}

// voidElements have no end tag.
var voidElements = []string{"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}

// wellFormed checks what html.Parse forgives: every element closed, in
// order; no attribute twice; one doctype first. The report writes no
// optional-end-tag shortcuts, so none are allowed.
func wellFormed(b []byte) error {
	z := html.NewTokenizer(bytes.NewReader(b))
	var open []string
	for first := true; ; first = false {
		tt := z.Next()
		tok := z.Token()
		switch tt {
		case html.ErrorToken:
			if z.Err() != io.EOF {
				return z.Err()
			}
			if len(open) > 0 {
				return fmt.Errorf("unclosed elements at the end: %v", open)
			}
			return nil
		case html.DoctypeToken:
			if !first {
				return errors.New("the doctype is not first")
			}
		case html.StartTagToken, html.SelfClosingTagToken:
			if first {
				return errors.New("no <!DOCTYPE html> first")
			}
			seen := map[string]bool{}
			for _, a := range tok.Attr {
				if seen[a.Key] {
					return fmt.Errorf("<%s> has attribute %s twice", tok.Data, a.Key)
				}
				seen[a.Key] = true
			}
			if tt == html.StartTagToken && !slices.Contains(voidElements, tok.Data) {
				open = append(open, tok.Data)
			}
		case html.EndTagToken:
			if len(open) == 0 || open[len(open)-1] != tok.Data {
				return fmt.Errorf("</%s> closes %v", tok.Data, open)
			}
			open = open[:len(open)-1]
		}
	}
}

// find is the first element below n for which match holds, in document order.
func find(n *html.Node, match func(*html.Node) bool) *html.Node {
	if n.Type == html.ElementNode && match(n) {
		return n
	}
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		if m := find(c, match); m != nil {
			return m
		}
	}
	return nil
}

func findAll(n *html.Node, match func(*html.Node) bool) []*html.Node {
	var out []*html.Node
	if n.Type == html.ElementNode && match(n) {
		out = append(out, n)
	}
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		out = append(out, findAll(c, match)...)
	}
	return out
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

func byID(id string) func(*html.Node) bool {
	return func(n *html.Node) bool { return attr(n, "id") == id }
}

func byClass(class string) func(*html.Node) bool {
	return func(n *html.Node) bool { return slices.Contains(strings.Fields(attr(n, "class")), class) }
}

func tag(name string) func(*html.Node) bool {
	return func(n *html.Node) bool { return n.Data == name }
}

// text is the text below n, as a reader sees it.
func text(n *html.Node) string {
	if n == nil {
		return ""
	}
	if n.Type == html.TextNode {
		return n.Data
	}
	var b strings.Builder
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		b.WriteString(text(c))
	}
	return b.String()
}

// before reports whether a comes before b in the document.
func before(doc, a, b *html.Node) bool {
	order := findAll(doc, func(n *html.Node) bool { return n == a || n == b })
	return len(order) == 2 && order[0] == a
}

func TestReportPageOfAGreenRun(t *testing.T) {
	dir := t.TempDir()
	doc, raw := page(t, dir, greenOutcome(t, dir))
	if v := text(find(doc, byID("verdict"))); v != "PASS" {
		t.Errorf("the verdict reads %q, want PASS", v)
	}
	if h := find(doc, tag("header")); h == nil || !byClass("pass")(h) {
		t.Error("the header is not coloured as passed")
	}
	if f := find(doc, byClass("failures")); f != nil {
		t.Errorf("a green run shows failures: %s", text(f))
	}
	var settings []string
	for _, n := range findAll(find(doc, byClass("settings")), tag("div")) {
		settings = append(settings, text(n))
	}
	host, _ := os.Hostname()
	for _, want := range []string{"accelerator: kvm", "boot path: cold", "deadline scale: 1.50", "web02 vcpus: 1", "commit: 0123abcd", "host: " + host} {
		if !slices.Contains(settings, want) {
			t.Errorf("the settings %q do not say %q", settings, want)
		}
	}
	table := find(doc, tag("table"))
	if table == nil {
		t.Fatal("no verdict table")
	}
	rows := findAll(find(table, tag("tbody")), tag("tr"))
	if len(rows) != len(reportNodes) {
		t.Fatalf("%d rows, want one per node (%d)", len(rows), len(reportNodes))
	}
	// haproxy passes all three checks; web01 two, and leastconn is not its.
	for _, tc := range []struct{ row, want string }{{"haproxy", "pass1.5s pass1.5s pass1.5s"}, {"web01", "pass1.5s - pass1.5s"}} {
		i := slices.Index(reportNodes, tc.row)
		var cells []string
		for _, td := range findAll(rows[i], tag("td")) {
			cells = append(cells, text(td))
		}
		if got := strings.Join(cells, " "); got != tc.want {
			t.Errorf("row %s: %q, want %q", tc.row, got, tc.want)
		}
	}
	img := find(doc, tag("img"))
	if img == nil || !strings.HasPrefix(attr(img, "src"), "data:image/svg+xml;base64,") {
		t.Errorf("the timeline is not inlined: %v", img)
	}
	// Offline and self-contained: nothing fetched, nothing run.
	for _, n := range findAll(doc, func(n *html.Node) bool { return attr(n, "src") != "" || n.Data == "link" || n.Data == "script" }) {
		if src := attr(n, "src"); n.Data != "img" || !strings.HasPrefix(src, "data:") {
			t.Errorf("the page loads <%s src=%.40q>", n.Data, src)
		}
	}
	if strings.Contains(raw, "http://") || strings.Contains(raw, "https://") || strings.Contains(raw, "url(") {
		t.Error("the page names a URL to fetch")
	}
}

func TestReportPageShowsACheckFailureFirst(t *testing.T) {
	dir := t.TempDir()
	doc, raw := page(t, dir, checkFailureOutcome(t, dir))
	if v := text(find(doc, byID("verdict"))); v != "FAIL" {
		t.Errorf("the verdict reads %q, want FAIL", v)
	}
	if h := find(doc, tag("header")); h == nil || !byClass("fail")(h) {
		t.Error("the header is not coloured as failed")
	}
	failures := find(doc, byClass("failures"))
	if failures == nil {
		t.Fatal("no failures section")
	}
	if table := find(doc, tag("table")); !before(doc, failures, table) {
		t.Error("the failures come after the verdict table: the cause is below the fold")
	}
	hostname := find(failures, byID("fail-loadbalancer-web02-hostname"))
	if got := text(hostname); !strings.Contains(got, hostnameFailure) {
		t.Errorf("web02's hostname failure reads %q, want the check's message %q", got, hostnameFailure)
	}
	// The table's FAIL links to it.
	link := find(doc, func(n *html.Node) bool { return attr(n, "href") == "#fail-loadbalancer-web02-hostname" })
	if link == nil || text(link) != "FAIL" {
		t.Error("web02's hostname cell does not link its failure")
	}
	if got := text(failures); !strings.Contains(got, `"cat /run/cloud-init/result.json" exited 1`) || !strings.Contains(got, "No such file or directory") {
		t.Errorf("the firstboot failure lacks the command and its output: %q", got)
	}
	// Evidence: web02's console and cloud-init.log, cut around the cause.
	logs := findAll(failures, byClass("log"))
	if len(logs) != 2 {
		t.Fatalf("%d logs in the failures, want web02's console and cloud-init.log", len(logs))
	}
	console, cloudInit := text(logs[0]), text(logs[1])
	if !strings.Contains(console, "Failed to start apache2.service") || !strings.Contains(console, "last line of web02") {
		t.Errorf("web02's console excerpt lacks the cause or its last line:\n%s", console)
	}
	if strings.Contains(console, "web02 boot line 5\n") {
		t.Errorf("web02's console excerpt is not cut: it holds line 5:\n%s", console)
	}
	if hits := findAll(logs[1], byClass("hit")); len(hits) != 2 || !strings.Contains(text(hits[1]), "Traceback") {
		t.Errorf("cloud-init.log marks %d lines as causes, want the WARNING and the Traceback:\n%s", len(hits), cloudInit)
	}
	if want := "dl-20260101-000000-bbbb-web02.console.log"; attr(find(logs[0], tag("a")), "href") != want {
		t.Errorf("the console's link is %q, want %q", attr(find(logs[0], tag("a")), "href"), want)
	}
	// Escaped: the line shows as text and runs nothing.
	if !strings.Contains(console, consoleScript) || !strings.Contains(raw, "&lt;script&gt;alert(&#34;console&#34;)&lt;/script&gt;") {
		t.Errorf("the console's %s is not shown as text", consoleScript)
	}
	if strings.Contains(raw, "<script") || strings.Contains(raw, "<b>not bold") || find(doc, tag("script")) != nil {
		t.Error("markup from a log or a message reached the page unescaped")
	}
	// Other nodes passed: no evidence of theirs.
	if strings.Contains(text(failures), "test2 boot line") {
		t.Error("the failures show a node that passed")
	}
}

func TestReportPageShowsAnUpFailureAndTheGuiltyConsole(t *testing.T) {
	dir := t.TempDir()
	doc, raw := page(t, dir, upFailureOutcome(t, dir))
	if v := text(find(doc, byID("verdict"))); v != "FAIL" {
		t.Errorf("the verdict reads %q, want FAIL", v)
	}
	failures := find(doc, byClass("failures"))
	if failures == nil {
		t.Fatal("no failures section")
	}
	if got := text(find(failures, tag("pre"))); got != upFailure {
		t.Errorf("the up error reads %q, want %q", got, upFailure)
	}
	nodes := findAll(failures, tag("summary"))
	if len(nodes) != 1 || !strings.HasPrefix(text(nodes[0]), "web01") {
		var names []string
		for _, n := range nodes {
			names = append(names, text(n))
		}
		t.Errorf("evidence of %q, want web01's alone (the node the error names)", names)
	}
	if console := text(find(failures, byClass("log"))); !strings.Contains(console, "Kernel panic - not syncing") {
		t.Errorf("web01's console excerpt lacks the panic:\n%s", console)
	}
	if strings.Contains(raw, "<script") {
		t.Error("web01's console line reached the page unescaped")
	}
	// No check ran: each is shown skipped.
	skipped := findAll(find(doc, tag("table")), byClass("skip"))
	if len(skipped) != len(reportChecks) {
		t.Errorf("%d checks shown skipped, want %d", len(skipped), len(reportChecks))
	}
}

// make e2e's page: a section per scenario, each reading its own folder.
func TestReportPageOfSeveralScenarios(t *testing.T) {
	root := t.TempDir()
	green := greenOutcome(t, filepath.Join(root, "loadbalancer"))
	failed := upFailureOutcome(t, filepath.Join(root, "cloudconfig"))
	failed.Scenario = "cloudconfig"
	skipped := harness.Skipped("failover", nil, "shard 2/2: scenario failover runs in shard 1/2")
	doc, _ := page(t, root, green, failed, skipped)
	if v := text(find(doc, byID("verdict"))); v != "FAIL" {
		t.Errorf("the verdict reads %q, want FAIL (one scenario failed)", v)
	}
	sections := findAll(doc, tag("section"))
	if len(sections) != 3 {
		t.Fatalf("%d sections, want one per scenario", len(sections))
	}
	for i, want := range []string{"PASS scenario loadbalancer", "FAIL scenario cloudconfig", "SKIP scenario failover"} {
		if got := text(find(sections[i], tag("h2"))); !strings.HasPrefix(got, want) {
			t.Errorf("section %d is %q, want %q", i, got, want)
		}
	}
	if a := find(sections[1], byClass("log")); a == nil || attr(find(a, tag("a")), "href") != "cloudconfig/dl-20260101-000000-cccc-web01.console.log" {
		t.Error("cloudconfig's console is not linked in its folder")
	}
	if got := text(sections[2]); !strings.Contains(got, "runs in shard 1/2") {
		t.Errorf("the skipped scenario does not say why: %q", got)
	}
}

// A lint failure: each problem at its template's line, for the
// annotations, and the templates' change against the golden listing.
func TestReportPageOfALintFailure(t *testing.T) {
	ctx := context.Background()
	in := run(t, &memory.Platform{Handler: guest})
	in.Golden = "../../fixtures/golden/debian12.txt"
	in.Overlay = t.TempDir()
	// Every node's hosts file with web01 at an address of nobody's: lint's to catch.
	hosts := filepath.Join(in.Overlay, "hosts.tmpl")
	if err := os.WriteFile(hosts, []byte(`127.0.0.1   localhost
::1         localhost ip6-localhost ip6-loopback
ff02::1     ip6-allnodes
ff02::2     ip6-allrouters
192.168.100.25 test2.cloud.org test2
192.168.100.26 haproxy.cloud.org haproxy
192.168.100.29 web01.cloud.org web01
192.168.100.28 web02.cloud.org web02
`), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := harness.Prepare(ctx, in)
	if err == nil {
		t.Fatal("Prepare passed a hosts file that puts web01 at web02's address")
	}
	dir := in.RunID.ArtifactsDir(in.Paths.Artifacts)
	o := harness.FailedUp("memory", checks, err, time.Now())
	o.Run, o.ArtifactsDir = in.RunID, dir
	s := harness.ReportPage(dir, "run lint", []harness.Outcome{o}).Sections[0]
	// One problem a node: each at the template (lint names no line here).
	var nodes []string
	for _, f := range s.Failures {
		if f.File != hosts || f.Check != "up" || !strings.Contains(f.Message, "maps web01.cloud.org to [192.168.100.29]") {
			t.Errorf("failure %+v, want one at %s", f, hosts)
		}
		nodes = append(nodes, f.Node)
	}
	if !slices.Equal(nodes, reportNodes) {
		t.Errorf("failures on %v, want one on each of %v\n(the error: %v)", nodes, reportNodes, err)
	}
	const changed = "+    |192.168.100.29 web01.cloud.org web01"
	if s.Golden == nil || !strings.Contains(s.Golden.Text, changed+"\n") || !strings.HasSuffix(s.Golden.Against, "fixtures/golden/debian12.txt") {
		t.Fatalf("the diff against the golden listing lacks %q: %+v", changed, s.Golden)
	}
	doc, _ := page(t, dir, o)
	added := findAll(find(doc, byClass("diff")), byClass("add"))
	if !slices.ContainsFunc(added, func(n *html.Node) bool { return text(n) == changed }) {
		t.Errorf("the page does not show %q as added", changed)
	}
}

// An up error that names no file is annotated whole; an address is no file.
func TestUpFailureWithoutAFileIsOneFailure(t *testing.T) {
	err := errors.New("connect: test2: ssh handshake with 192.168.100.25:22: connection refused\n192.168.100.25:22: again")
	o := harness.FailedUp("memory", checks, err, time.Now())
	got := harness.ReportPage(t.TempDir(), "run x", []harness.Outcome{o}).Sections[0].Failures
	if len(got) != 1 || got[0].File != "" || got[0].Message != err.Error() || got[0].Check != "up" {
		t.Errorf("failures %+v, want the error whole, at no file", got)
	}
}

// A template that does not render: the failure is at its line.
func TestReportLocatesATemplateError(t *testing.T) {
	in := run(t, &memory.Platform{Handler: guest})
	in.Overlay = t.TempDir()
	page := filepath.Join(in.Overlay, "index.html.tmpl")
	if err := os.WriteFile(page, []byte("<h1>\n{{.NoSuchField}}\n</h1>\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := harness.Prepare(context.Background(), in)
	if err == nil {
		t.Fatal("Prepare rendered a template naming a field that does not exist")
	}
	o := harness.FailedUp("memory", checks, err, time.Now())
	failures := harness.ReportPage(t.TempDir(), "run x", []harness.Outcome{o}).Sections[0].Failures
	if !slices.ContainsFunc(failures, func(f report.Failure) bool { return f.File == page && f.Line == 2 }) {
		t.Errorf("no failure at %s:2 among %+v\n(the error: %v)", page, failures, err)
	}
}

// A flaky check and a quarantined one fail nothing, and the page keeps
// both failures where people look first.
func TestReportPageShowsFlakyAndQuarantinedChecks(t *testing.T) {
	dir := t.TempDir()
	run := runid.ID("20260101-000000-dddd")
	artifacts(t, dir, run, nil, nil)
	v := verdict(nil)
	var results []verify.Result
	for _, r := range v.Results() {
		switch r.Check + " " + r.Node {
		case "hostname web01":
			r.Attempts = []verify.Attempt{{Err: errors.New("first attempt: hostname is localhost")}, {}}
		case "hostname web02":
			r.Err = errors.New("hostname is localhost")
			r.Quarantine = &verify.Quarantine{Reason: "known slow DNS", Until: "2099-01-01", Where: "fixtures/quarantine.yaml:3"}
		}
		if r.Check == "hostname" {
			results = append(results, r)
		}
	}
	v.Add("hostname", results)
	doc, _ := page(t, dir, outcome(dir, run, v))
	if got := text(find(doc, byID("verdict"))); got != "PASS" {
		t.Errorf("the verdict reads %q: a flaky and a quarantined check fail nothing", got)
	}
	failures := find(doc, byClass("failures"))
	if failures == nil {
		t.Fatal("no failures section: the flaky check's first failure is gone")
	}
	if got := text(find(failures, byID("fail-loadbalancer-web01-hostname"))); !strings.Contains(got, "FLAKY") || !strings.Contains(got, "first attempt: hostname is localhost") {
		t.Errorf("web01's flaky hostname reads %q", got)
	}
	if got := text(find(failures, byID("fail-loadbalancer-web02-hostname"))); !strings.Contains(got, "QUARANTINED") || !strings.Contains(got, "until 2099-01-01 (known slow DNS") {
		t.Errorf("web02's quarantined hostname reads %q", got)
	}
	for _, want := range []string{"FLAKY", "QUAR"} {
		if find(doc, func(n *html.Node) bool { return n.Data == "a" && text(n) == want }) == nil {
			t.Errorf("no %s cell in the table", want)
		}
	}
}
