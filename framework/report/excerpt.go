package report

import (
	"regexp"
	"strings"
)

// CausePattern matches a log line that may say why a boot or a check went
// wrong: a Python traceback, cloud-init's WARNING and ERROR, a kernel panic,
// systemd's failed units, an emergency shell.
var CausePattern = regexp.MustCompile(`Traceback|WARNING|ERROR|[Pp]anic|FAILED|Failed|[Ee]mergency|Oops|BUG:|Dependency failed|Killed process`)

// Excerpt sizes: the lines around each cause, how many causes at most (a
// log can warn hundreds of times), and the last lines, where a stuck or
// dying boot ends.
const (
	aroundCause = 2
	maxCauses   = 8
	lastLines   = 20
)

// controlSequence is a terminal's colour or cursor code: consoles carry
// systemd's coloured "[  OK  ]".
var controlSequence = regexp.MustCompile(`\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][0-9A-Za-z]|[\x00-\x08\x0b-\x1f\x7f]`)

// Excerpt cuts a log to what explains a failure: each of the first few
// lines matching CausePattern with a few lines around it, then the last
// lines. Gaps show as a Line with N 0. causes counts every matching line,
// total every line.
func Excerpt(text string) (lines []Line, causes, total int) {
	all := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	if text == "" {
		all = nil
	}
	keep := make([]bool, len(all))
	cause := make([]bool, len(all))
	for i, l := range all {
		if !CausePattern.MatchString(l) {
			continue
		}
		cause[i] = true
		if causes++; causes > maxCauses {
			continue
		}
		for j := max(i-aroundCause, 0); j <= min(i+aroundCause, len(all)-1); j++ {
			keep[j] = true
		}
	}
	for j := max(len(all)-lastLines, 0); j < len(all); j++ {
		keep[j] = true
	}
	for i, k := range keep {
		if !k {
			continue
		}
		if i > 0 && !keep[i-1] {
			lines = append(lines, Line{})
		}
		lines = append(lines, Line{N: i + 1, Text: clean(all[i]), Cause: cause[i]})
	}
	return lines, causes, len(all)
}

// Line is one line of an excerpt: its number in the file (0: lines left
// out here), its text, and whether it looks like a cause.
type Line struct {
	N     int
	Text  string
	Cause bool
}

// clean makes a console line plain, valid text.
func clean(s string) string {
	return controlSequence.ReplaceAllString(strings.ToValidUTF8(s, "\uFFFD"), "")
}
