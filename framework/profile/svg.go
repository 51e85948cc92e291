package profile

import (
	"fmt"
	"html"
	"math"
	"strings"
)

// stageColors give each stage the same colour in every lane; unknown
// stages are grey.
var stageColors = map[string]string{
	"firmware":              "#9e9e9e",
	"kernel":                "#8d6e63",
	"initrd":                "#a1887f",
	"systemd":               "#42a5f5",
	"cloud-init:init-local": "#66bb6a",
	"cloud-init:init":       "#26a69a",
	"cloud-init:final":      "#ffa726",
	"ssh":                   "#ab47bc",
}

// SVG draws the run as a timeline: one lane per node, one bar per stage,
// seconds from the run's start along the bottom, and under the lanes each
// node's slowest user_data step and cloud-init event. The title's lines go
// above the lanes.
func (p *Profile) SVG(title ...string) []byte {
	const (
		left, right = 90.0, 20.0
		width       = 1000.0
		laneH       = 34.0
	)
	top := 24 + 18*float64(len(title))
	end := 0.0
	for _, n := range p.Nodes {
		for _, s := range n.Stages {
			end = max(end, s.StartS+s.DurationS)
		}
	}
	tick := niceCeil(max(end, 1) / 8)
	span := math.Ceil(max(end, 1)/tick) * tick
	x := func(sec float64) float64 { return left + sec/span*(width-left-right) }

	var b strings.Builder
	notes := noteLines(p)
	height := top + laneH*float64(len(p.Nodes)) + 40 + 16*float64(len(notes)+len(stageColors)/4+2)
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" font-family="sans-serif" font-size="12">`+"\n", width, height)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	for i, line := range title {
		weight := "normal"
		if i == 0 {
			weight = "bold"
		}
		fmt.Fprintf(&b, `<text x="8" y="%d" font-size="14" font-weight="%s">%s</text>`+"\n", 20+18*i, weight, html.EscapeString(line))
	}

	// Grid: a line every tick seconds.
	axisY := top + laneH*float64(len(p.Nodes))
	for t := 0.0; t <= span+1e-9; t += tick {
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.0f" x2="%.1f" y2="%.0f" stroke="#e0e0e0"/>`+"\n", x(t), top-4, x(t), axisY)
		fmt.Fprintf(&b, `<text x="%.1f" y="%.0f" text-anchor="middle" fill="#555">%gs</text>`+"\n", x(t), axisY+14, t)
	}
	for i, n := range p.Nodes {
		y := top + laneH*float64(i)
		fmt.Fprintf(&b, `<text x="8" y="%.0f">%s</text>`+"\n", y+laneH/2+4, html.EscapeString(n.Name))
		for _, s := range n.Stages {
			w := math.Max(x(s.StartS+s.DurationS)-x(s.StartS), 1)
			color := stageColors[s.Name]
			if color == "" {
				color = "#bdbdbd"
			}
			fmt.Fprintf(&b, `<rect x="%.1f" y="%.0f" width="%.1f" height="%.0f" fill="%s" stroke="white"><title>%s %s: %.1fs (from %.1fs)</title></rect>`+"\n",
				x(s.StartS), y+4, w, laneH-8, color, html.EscapeString(n.Name), html.EscapeString(s.Name), s.DurationS, s.StartS)
			if label := fmt.Sprintf("%s %.0fs", shortStage(s.Name), s.DurationS); w > 7*float64(len(label)) {
				fmt.Fprintf(&b, `<text x="%.1f" y="%.0f" fill="white">%s</text>`+"\n", x(s.StartS)+3, y+laneH/2+4, html.EscapeString(label))
			}
		}
	}
	// Legend, then the notes.
	y := axisY + 36
	lx := left
	for _, name := range []string{"firmware", "kernel", "initrd", "systemd", "cloud-init:init-local", "cloud-init:init", "cloud-init:final", "ssh"} {
		fmt.Fprintf(&b, `<rect x="%.0f" y="%.0f" width="12" height="12" fill="%s"/><text x="%.0f" y="%.0f">%s</text>`+"\n", lx, y-10, stageColors[name], lx+16, y, name)
		lx += 16 + 7.5*float64(len(name)) + 14
	}
	for _, note := range notes {
		y += 16
		fmt.Fprintf(&b, `<text x="%.0f" y="%.0f" fill="#333">%s</text>`+"\n", left, y, html.EscapeString(note))
	}
	b.WriteString("</svg>\n")
	return []byte(b.String())
}

// noteLines are the five costliest stages and each node's slowest steps.
func noteLines(p *Profile) []string {
	var notes []string
	for i, s := range p.Costliest(5) {
		notes = append(notes, fmt.Sprintf("costliest stage %d: %s %s %.1fs", i+1, s.Node, s.Name, s.DurationS))
	}
	for _, n := range p.Nodes {
		if len(n.UserData) > 0 {
			notes = append(notes, fmt.Sprintf("%s: slowest user_data step %.1fs: %s", n.Name, n.UserData[0].DurationS, n.UserData[0].Name))
		}
		if len(n.CloudInit) > 0 {
			notes = append(notes, fmt.Sprintf("%s: slowest cloud-init event %.1fs: %s", n.Name, n.CloudInit[0].DurationS, n.CloudInit[0].Name))
		}
	}
	return notes
}

func shortStage(s string) string { return strings.TrimPrefix(s, "cloud-init:") }

// niceCeil rounds up to 1, 2 or 5 times a power of ten.
func niceCeil(v float64) float64 {
	if v <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= v {
			return m * p
		}
	}
	return 10 * p
}
