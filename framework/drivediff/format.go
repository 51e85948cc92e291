package drivediff

import (
	"fmt"
	"io"
	"strings"
)

// NoChanges is what the reports say when no drive or input differs.
const NoChanges = "no drive changes"

// WriteText writes the report for a terminal: each rendering's changed
// files with their diffs, then the touched scenarios and their label
// filter. base names what was compared against.
func (r *Report) WriteText(w io.Writer, base string) error {
	p := &printer{w: w}
	if r.Empty() {
		p.f("%s against %s\n", NoChanges, base)
		return p.err
	}
	p.f("drives rendered at %s and in the work tree\n", base)
	for _, g := range r.Renderings {
		p.f("\n%s (flavor %s; scenarios %s):\n", g.title(), g.Flavor, strings.Join(g.Scenarios, ", "))
		for _, in := range g.Inputs {
			p.f("  %s\n", in)
		}
		for _, n := range g.Nodes {
			for _, f := range n.Files {
				p.f("  %s: %s\n", n.Node, f.describe("", ""))
			}
		}
		for _, n := range g.Nodes {
			for _, f := range n.Files {
				p.f("\n%s", f.Diff)
			}
		}
	}
	p.f("\ntouched scenarios:\n")
	for _, t := range r.Touched {
		p.f("  %s: %s\n", t.Scenario, strings.Join(t.Why, ", "))
	}
	p.f("label filter: %s\n", r.LabelFilter())
	return p.err
}

// WriteMarkdown writes the report for a CI job summary: the touched
// scenarios and their label filter first, then each rendering's changed
// files, the diffs folded.
func (r *Report) WriteMarkdown(w io.Writer, base string) error {
	p := &printer{w: w}
	p.f("### Drive changes\n\n")
	if r.Empty() {
		p.f("%s against %s.\n", NoChanges, base)
		return p.err
	}
	p.f("Drives rendered at %s and in this change. Touched scenarios (label filter `%s`):\n\n", base, r.LabelFilter())
	for _, t := range r.Touched {
		p.f("- **%s**: %s\n", t.Scenario, strings.Join(t.Why, ", "))
	}
	for _, g := range r.Renderings {
		p.f("\n#### %s, flavor %s (%s)\n\n", g.title(), g.Flavor, strings.Join(g.Scenarios, ", "))
		for _, in := range g.Inputs {
			p.f("- %s\n", in)
		}
		for _, n := range g.Nodes {
			for _, f := range n.Files {
				p.f("- **%s**: %s\n", n.Node, f.describe("`", "`"))
			}
		}
		for _, n := range g.Nodes {
			for _, f := range n.Files {
				fence := strings.Repeat("`", max(3, longestRun(f.Diff, '`')+1))
				p.f("\n<details><summary>%s: %s</summary>\n\n%sdiff\n%s%s\n\n</details>\n", n.Node, f.Path, fence, f.Diff, fence)
			}
		}
	}
	return p.err
}

// title names a rendering by its topology and overlay.
func (g Rendering) title() string {
	if g.Overlay != "" {
		return g.Topology + " with overlay " + g.Overlay
	}
	return g.Topology
}

// describe is the file's drive path, guest path and template, each quoted
// between open and close.
func (f FileChange) describe(open, close string) string {
	s := open + f.Path + close
	var from []string
	if f.Guest != "" {
		from = append(from, "written to "+open+f.Guest+close)
	}
	if f.Template != "" {
		from = append(from, "from "+open+f.Template+close)
	}
	if len(from) > 0 {
		s += " (" + strings.Join(from, ", ") + ")"
	}
	return s
}

// longestRun is the longest run of c in s.
func longestRun(s string, c byte) int {
	most, run := 0, 0
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			run++
			most = max(most, run)
		} else {
			run = 0
		}
	}
	return most
}

// printer writes until the first error, which it keeps.
type printer struct {
	w   io.Writer
	err error
}

func (p *printer) f(format string, args ...any) {
	if p.err == nil {
		_, p.err = fmt.Fprintf(p.w, format, args...)
	}
}
