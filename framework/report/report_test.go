package report_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/drivelab/drivelab/framework/report"
)

// render shows an excerpt as "N:text" lines, "..." for a gap and "!" before
// a cause.
func render(lines []report.Line) string {
	var b strings.Builder
	for _, l := range lines {
		switch {
		case l.N == 0:
			b.WriteString("...\n")
		case l.Cause:
			fmt.Fprintf(&b, "!%d:%s\n", l.N, l.Text)
		default:
			fmt.Fprintf(&b, "%d:%s\n", l.N, l.Text)
		}
	}
	return b.String()
}

func numbered(n int, at map[int]string) string {
	var b strings.Builder
	for i := 1; i <= n; i++ {
		line := fmt.Sprintf("line %d", i)
		if s, ok := at[i]; ok {
			line = s
		}
		b.WriteString(line + "\n")
	}
	return b.String()
}

func TestExcerptKeepsTheCausesAndTheEnd(t *testing.T) {
	text := numbered(100, map[int]string{10: "Traceback (most recent call last):", 70: "\x1b[0;1;31m[FAILED]\x1b[0m Failed to start x.service\r"})
	lines, causes, total := report.Excerpt(text)
	want := "...\n8:line 8\n9:line 9\n!10:Traceback (most recent call last):\n11:line 11\n12:line 12\n...\n" +
		"68:line 68\n69:line 69\n!70:[FAILED] Failed to start x.service\n71:line 71\n72:line 72\n...\n"
	for i := 81; i <= 100; i++ {
		want += fmt.Sprintf("%d:line %d\n", i, i)
	}
	if got := render(lines); got != want || causes != 2 || total != 100 {
		t.Errorf("Excerpt: %d causes of %d lines, want 2 of 100:\n%s\nwant:\n%s", causes, total, got, want)
	}
}

// A log that warns on every line is cut to its first causes and its end.
func TestExcerptBoundsTheCauses(t *testing.T) {
	at := map[int]string{}
	for i := 1; i <= 500; i++ {
		at[i] = fmt.Sprintf("WARNING %d", i)
	}
	lines, causes, _ := report.Excerpt(numbered(500, at))
	if causes != 500 || len(lines) > 40 {
		t.Errorf("%d causes counted, %d lines kept: want 500 counted and a short excerpt", causes, len(lines))
	}
	if got := render(lines); !strings.HasPrefix(got, "!1:WARNING 1\n") || !strings.HasSuffix(got, "!500:WARNING 500\n") {
		t.Errorf("the excerpt does not start with the first cause and end with the last line:\n%s", got)
	}
}

func TestExcerptOfNothing(t *testing.T) {
	if lines, causes, total := report.Excerpt(""); len(lines) != 0 || causes != 0 || total != 0 {
		t.Errorf("Excerpt(\"\") = %v, %d, %d", lines, causes, total)
	}
	if lines, _, _ := report.Excerpt("only\n"); render(lines) != "1:only\n" {
		t.Errorf("a one-line log: %q", render(lines))
	}
}

func TestPageStatus(t *testing.T) {
	page := func(statuses ...report.Status) report.Page {
		var p report.Page
		for _, s := range statuses {
			p.Sections = append(p.Sections, report.Section{Status: s})
		}
		return p
	}
	for _, tc := range []struct {
		page report.Page
		want report.Status
	}{
		{page(), report.Skip},
		{page(report.Skip), report.Skip},
		{page(report.Skip, report.Pass), report.Pass},
		{page(report.Pass, report.Fail, report.Skip), report.Fail},
	} {
		if got := tc.page.Status(); got != tc.want {
			t.Errorf("%v: %s, want %s", tc.page.Sections, got, tc.want)
		}
	}
}
