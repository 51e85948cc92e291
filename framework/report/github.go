package report

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// GitHub is how a run tells GitHub Actions about itself, in Actions' own
// conventions: an error annotation per failure, on the template line when
// the failure names one, and the verdict tables in the job's summary.
type GitHub struct {
	// Annotations receives one `::error` workflow command per failure;
	// nil: none (not under Actions).
	Annotations io.Writer
	// Summary is the file the verdict tables are appended to, as Markdown
	// ($GITHUB_STEP_SUMMARY); "": none.
	Summary string
	// Workspace is the checkout that annotation paths are relative to
	// ($GITHUB_WORKSPACE); "": paths as they are.
	Workspace string
}

// GitHubFromEnv is GitHub as Actions sets it up, read through getenv
// (os.Getenv, at the edge: library code reads no environment): the
// annotations go to out when GITHUB_ACTIONS is "true".
func GitHubFromEnv(getenv func(string) string, out io.Writer) GitHub {
	g := GitHub{Summary: getenv("GITHUB_STEP_SUMMARY"), Workspace: getenv("GITHUB_WORKSPACE")}
	if getenv("GITHUB_ACTIONS") == "true" {
		g.Annotations = out
	}
	return g
}

// Publish writes the page's failures as annotations and appends its
// verdict tables to the summary file, each when asked for.
func (g GitHub) Publish(p Page) error {
	var errs []error
	if g.Annotations != nil {
		for _, s := range p.Sections {
			for _, f := range s.Failures {
				_, err := io.WriteString(g.Annotations, Annotation(s.Name(), f, g.Workspace)+"\n")
				errs = append(errs, err)
			}
		}
	}
	if g.Summary != "" {
		f, err := os.OpenFile(g.Summary, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err == nil {
			_, err = io.WriteString(f, Markdown(p))
			err = errors.Join(err, f.Close())
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("GitHub step summary (GITHUB_STEP_SUMMARY=%s): %w", g.Summary, err))
		}
	}
	return errors.Join(errs...)
}

// Annotation is f as GitHub's `::error` workflow command (`::warning` for
// a flaky or quarantined check), titled
// scenario/node/check, at f's file and line when it has them (the file
// relative to workspace when inside it). Publish passes Section.Name as
// the scenario, so that a remote run's title names its host.
func Annotation(scenario string, f Failure, workspace string) string {
	var props []string
	if f.File != "" {
		file := f.File
		if workspace != "" {
			if rel, err := filepath.Rel(workspace, file); err == nil && filepath.IsLocal(rel) {
				file = rel
			}
		}
		props = append(props, "file="+escapeProperty(filepath.ToSlash(file)))
		if f.Line > 0 {
			props = append(props, fmt.Sprintf("line=%d", f.Line))
		}
	}
	props = append(props, "title="+escapeProperty(f.Title(scenario)))
	// A flaky or quarantined check fails nothing: a warning keeps it seen.
	command := "::error "
	if f.Status != "" && f.Status != Fail {
		command = "::warning "
	}
	return command + strings.Join(props, ",") + "::" + escapeData(f.Message)
}

// escapeData and escapeProperty escape as GitHub's runner unescapes
// (actions/toolkit, packages/core/src/command.ts): a message keeps its
// newlines as %0A, a property cannot hold the , and : that separate them.
var (
	escapeData     = strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A").Replace
	escapeProperty = strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A", ":", "%3A", ",", "%2C").Replace
)

// Markdown is the page's verdict tables as GitHub-flavoured Markdown: per
// scenario its verdict, the node x check table, and each failure's first line.
func Markdown(p Page) string {
	var b strings.Builder
	fmt.Fprintf(&b, "## drivelab %s: %s\n", markdownText(p.Title), strings.ToUpper(string(p.Status())))
	if hosts := p.Hosts(); len(hosts) > 1 {
		fmt.Fprintf(&b, "\non %d hosts: %s\n", len(hosts), markdownText(strings.Join(hosts, ", ")))
	}
	for _, s := range p.Sections {
		scenario := s.Scenario
		if s.Host != "" {
			scenario += " on host " + s.Host
		}
		fmt.Fprintf(&b, "\n### %s %s: %s", icon(s.Status), markdownText(scenario), strings.ToUpper(string(s.Status)))
		if s.Run != "" {
			fmt.Fprintf(&b, " (run %s)", markdownText(s.Run))
		}
		b.WriteString("\n\n")
		switch {
		case s.Skipped != "":
			fmt.Fprintf(&b, "skipped: %s\n", markdownText(s.Skipped))
		case s.UpError != "":
			first, _, _ := strings.Cut(s.UpError, "\n")
			fmt.Fprintf(&b, "failed before its checks ran: %s\n", markdownText(first))
		}
		if len(s.Rows) > 0 {
			b.WriteString("\n| node |")
			for _, c := range s.Checks {
				fmt.Fprintf(&b, " %s |", markdownText(c))
			}
			b.WriteString("\n|---|")
			b.WriteString(strings.Repeat("---|", len(s.Checks)))
			b.WriteString("\n")
			for _, r := range s.Rows {
				fmt.Fprintf(&b, "| %s |", markdownText(r.Node))
				for _, c := range r.Cells {
					fmt.Fprintf(&b, " %s |", cellText(c))
				}
				b.WriteString("\n")
			}
		}
		if s.UpError == "" && len(s.Failures) > 0 {
			b.WriteString("\n")
			for _, f := range s.Failures {
				fmt.Fprintf(&b, "- **%s** on **%s**: %s\n", markdownText(f.Check), markdownText(f.Node), markdownText(f.Summary()))
			}
		}
	}
	return b.String()
}

func icon(s Status) string {
	switch s {
	case Pass:
		return "✅"
	case Fail:
		return "❌"
	}
	return "⏭️"
}

func cellText(c Cell) string {
	switch c.Status {
	case Pass:
		return fmt.Sprintf("✅ %.1fs", c.Elapsed.Seconds())
	case Fail:
		return fmt.Sprintf("❌ **FAIL** %.1fs", c.Elapsed.Seconds())
	case Skip:
		return "skip"
	}
	return "-"
}

// markdownText escapes what Markdown or the HTML it allows would read as
// markup, so that a message shows as written on one line (| would end a
// table cell).
var markdownText = strings.NewReplacer(
	`\`, `\\`, "`", "\\`", "*", `\*`, "_", `\_`, "[", `\[`, "]", `\]`, "|", `\|`,
	"<", "&lt;", ">", "&gt;", "&", "&amp;", "#", `\#`, "\r", " ", "\n", " ",
).Replace
