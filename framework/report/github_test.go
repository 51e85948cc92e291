package report_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/drivelab/drivelab/framework/report"
)

// failedPage is a run with web02's hostname failed and a lint problem of
// another scenario at a template's line.
func failedPage(workspace string) report.Page {
	cell := func(check string, s report.Status) report.Cell {
		return report.Cell{Check: check, Status: s, Elapsed: 1500 * time.Millisecond}
	}
	return report.Page{Title: "run r1", Sections: []report.Section{
		{
			Scenario: "loadbalancer", Run: "r1", Status: report.Fail, Checks: []string{"hostname", "leastconn"},
			Rows: []report.Row{
				{Node: "haproxy", Cells: []report.Cell{cell("hostname", report.Pass), cell("leastconn", report.Pass)}},
				{Node: "web02", Cells: []report.Cell{cell("hostname", report.Fail), cell("leastconn", report.NotApplicable)}},
			},
			Failures: []report.Failure{{Node: "web02", Check: "hostname", Message: "hostname: expected \"web02\", actual \"a|b\"\nmore"}},
		},
		{
			Scenario: "cloudconfig", Run: "r2", Status: report.Fail, Checks: []string{"hostname"},
			UpError:  "lint (nothing was booted): 1 problem(s):\nnode app01: templates/hosts.tmpl:3: wrong",
			Failures: []report.Failure{{Node: "app01", Check: "up", Message: "wrong", File: filepath.Join(workspace, "templates", "hosts.tmpl"), Line: 3}},
		},
	}}
}

// GitHub's runner splits a command at its first "::" and its properties at
// "," and "=": a title or message holding them is escaped as
// actions/toolkit's command.ts escapes it.
func TestAnnotationEscapesAsGitHubReadsIt(t *testing.T) {
	for _, tc := range []struct {
		name      string
		f         report.Failure
		workspace string
		want      string
	}{
		{"message lines and percent", report.Failure{Node: "web02", Check: "hostname", Message: "100% wrong\r\nexpected: a, b"},
			"", "::error title=loadbalancer/web02/hostname::100%25 wrong%0D%0Aexpected: a, b"},
		{"a flaky check warns", report.Failure{Node: "web02", Check: "hostname", Status: report.Flaky, Message: "once"},
			"", "::warning title=loadbalancer/web02/hostname::once"},
		{"title with separators", report.Failure{Node: "web:02,x", Check: "up%", Message: "m"},
			"", "::error title=loadbalancer/web%3A02%2Cx/up%25::m"},
		{"file in the workspace", report.Failure{Check: "up", Message: "wrong", File: "/ws/fixtures/templates/debian12/hosts.tmpl", Line: 3},
			"/ws", "::error file=fixtures/templates/debian12/hosts.tmpl,line=3,title=loadbalancer/up::wrong"},
		{"file outside it", report.Failure{Check: "up", Message: "wrong", File: "/tmp/overlay/a,b.tmpl", Line: 7},
			"/ws", "::error file=/tmp/overlay/a%2Cb.tmpl,line=7,title=loadbalancer/up::wrong"},
		{"file without a line", report.Failure{Check: "up", Message: "wrong", File: "/ws/fixtures/topology.yaml"},
			"/ws", "::error file=fixtures/topology.yaml,title=loadbalancer/up::wrong"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := report.Annotation("loadbalancer", tc.f, tc.workspace); got != tc.want {
				t.Errorf("\n got %s\nwant %s", got, tc.want)
			}
		})
	}
}

func TestGitHubFromEnv(t *testing.T) {
	var out bytes.Buffer
	env := map[string]string{"GITHUB_STEP_SUMMARY": "/s", "GITHUB_WORKSPACE": "/ws"}
	g := report.GitHubFromEnv(func(k string) string { return env[k] }, &out)
	if g.Annotations != nil || g.Summary != "/s" || g.Workspace != "/ws" {
		t.Errorf("outside Actions: %+v, want no annotations, the summary and workspace", g)
	}
	env["GITHUB_ACTIONS"] = "true"
	if g := report.GitHubFromEnv(func(k string) string { return env[k] }, &out); g.Annotations != &out {
		t.Errorf("under Actions the annotations go to %v, want the given writer", g.Annotations)
	}
}

func TestPublishAnnotatesEachFailureAndAppendsTheTables(t *testing.T) {
	workspace := t.TempDir()
	summary := filepath.Join(t.TempDir(), "summary.md")
	if err := os.WriteFile(summary, []byte("earlier step\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	g := report.GitHub{Annotations: &out, Summary: summary, Workspace: workspace}
	if err := g.Publish(failedPage(workspace)); err != nil {
		t.Fatal(err)
	}
	want := `::error title=loadbalancer/web02/hostname::hostname: expected "web02", actual "a|b"%0Amore` + "\n" +
		"::error file=templates/hosts.tmpl,line=3,title=cloudconfig/app01/up::wrong\n"
	if out.String() != want {
		t.Errorf("annotations:\n%s\nwant:\n%s", out.String(), want)
	}
	b, err := os.ReadFile(summary)
	if err != nil {
		t.Fatal(err)
	}
	got := string(b)
	for _, line := range []string{
		"earlier step",
		"## drivelab run r1: FAIL",
		"### ❌ loadbalancer: FAIL (run r1)",
		"| node | hostname | leastconn |",
		"|---|---|---|",
		"| haproxy | ✅ 1.5s | ✅ 1.5s |",
		"| web02 | ❌ **FAIL** 1.5s | - |",
		`- **hostname** on **web02**: hostname: expected "web02", actual "a\|b"`,
		"### ❌ cloudconfig: FAIL (run r2)",
		"failed before its checks ran: lint (nothing was booted): 1 problem(s):",
	} {
		if !strings.Contains("\n"+got+"\n", "\n"+line+"\n") {
			t.Errorf("the summary lacks the line %q:\n%s", line, got)
		}
	}
	// Outside Actions nothing is written.
	out.Reset()
	if err := (report.GitHub{}).Publish(failedPage(workspace)); err != nil || out.Len() > 0 {
		t.Errorf("Publish with nothing asked for: %v, %q", err, out.String())
	}
}

func TestPublishSaysWhichSummaryItCouldNotWrite(t *testing.T) {
	summary := filepath.Join(t.TempDir(), "missing-folder", "summary.md")
	err := report.GitHub{Summary: summary}.Publish(failedPage("/ws"))
	if err == nil || !strings.Contains(err.Error(), "GITHUB_STEP_SUMMARY="+summary) {
		t.Errorf("Publish = %v, want it to name the summary file", err)
	}
}

// A message is one line of Markdown whatever it holds.
func TestMarkdownShowsMarkupAsText(t *testing.T) {
	p := report.Page{Title: "run r", Sections: []report.Section{{
		Scenario: "s", Status: report.Fail,
		Failures: []report.Failure{{Node: "n", Check: "c", Message: "<img src=x> *bold* [link](http://x) `code` | pipe # 1_2"}},
	}}}
	want := `- **c** on **n**: &lt;img src=x&gt; \*bold\* \[link\](http://x) ` + "\\`code\\`" + ` \| pipe \# 1\_2`
	if got := report.Markdown(p); !strings.Contains(got, want+"\n") {
		t.Errorf("Markdown:\n%s\nwant the line:\n%s", got, want)
	}
}

// A scenario run on another libvirt host names it in its annotations'
// titles and in the summary, which lists the hosts when there are several;
// a local one's read as before.
func TestPublishNamesTheRemoteHost(t *testing.T) {
	p := failedPage("/ws")
	p.Sections[0].Host = "10.251.1.2"
	var out bytes.Buffer
	summary := filepath.Join(t.TempDir(), "summary.md")
	if err := (report.GitHub{Annotations: &out, Summary: summary, Workspace: "/ws"}).Publish(p); err != nil {
		t.Fatal(err)
	}
	want := `::error title=loadbalancer@10.251.1.2/web02/hostname::hostname: expected "web02", actual "a|b"%0Amore` + "\n" +
		"::error file=templates/hosts.tmpl,line=3,title=cloudconfig/app01/up::wrong\n"
	if out.String() != want {
		t.Errorf("annotations:\n%s\nwant:\n%s", out.String(), want)
	}
	b, err := os.ReadFile(summary)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{"on 2 hosts: 10.251.1.2, local", "### ❌ loadbalancer on host 10.251.1.2: FAIL (run r1)", "### ❌ cloudconfig: FAIL (run r2)"} {
		if !strings.Contains("\n"+string(b)+"\n", "\n"+line+"\n") {
			t.Errorf("the summary lacks the line %q:\n%s", line, b)
		}
	}
	if hosts := report.Markdown(failedPage("/ws")); strings.Contains(hosts, "hosts:") {
		t.Errorf("a local page lists hosts:\n%s", hosts)
	}
}
