package image

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// aptSources is the host's apt sources cut down to the image's suite: the
// image is built from whatever mirror the host already uses (no mirror name
// lives in the repository), and a third-party repository for another suite
// (or an unreachable one) cannot break the build.
type aptSources struct {
	oneLine string // sources.list format
	deb822  string // .sources format
	from    []string
}

func (s aptSources) empty() bool { return s.oneLine == "" && s.deb822 == "" }

// String is the sources as they go into the image, for the manifest.
func (s aptSources) String() string { return s.oneLine + s.deb822 }

// hostSources reads sources.list and sources.list.d/*.{list,sources} under
// aptDir (/etc/apt) and keeps the binary entries of suite and its -updates,
// -security and other pockets.
func hostSources(aptDir, suite string) (aptSources, error) {
	var s aptSources
	files := []string{filepath.Join(aptDir, "sources.list")}
	for _, pat := range []string{"*.list", "*.sources"} {
		m, _ := filepath.Glob(filepath.Join(aptDir, "sources.list.d", pat))
		files = append(files, m...)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			return s, fmt.Errorf("reading the host's apt sources: %w", err)
		}
		var kept string
		if strings.HasSuffix(f, ".sources") {
			kept = filterDeb822(b, suite)
			s.deb822 += kept
		} else {
			kept = filterOneLine(b, suite)
			s.oneLine += kept
		}
		if kept != "" {
			s.from = append(s.from, f)
		}
	}
	if s.empty() {
		return s, fmt.Errorf("no apt source for Debian %q in %s/sources.list or %s/sources.list.d: "+
			"add one (apt-get update must work on this host) or pass --mirror URL", suite, aptDir, aptDir)
	}
	return s, nil
}

func suiteMatches(s, suite string) bool {
	return s == suite || strings.HasPrefix(s, suite+"-") || strings.HasPrefix(s, suite+"/")
}

// filterOneLine keeps `deb [options] URI SUITE COMPONENT...` lines of suite.
func filterOneLine(b []byte, suite string) string {
	var out strings.Builder
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line, _, _ := strings.Cut(sc.Text(), "#")
		f := strings.Fields(line)
		if len(f) == 0 || f[0] != "deb" {
			continue
		}
		rest := f[1:]
		if len(rest) > 0 && strings.HasPrefix(rest[0], "[") {
			i := slices.IndexFunc(rest, func(w string) bool { return strings.HasSuffix(w, "]") })
			if i < 0 {
				continue
			}
			rest = rest[i+1:]
		}
		if len(rest) >= 2 && suiteMatches(rest[1], suite) {
			out.WriteString(strings.TrimSpace(line) + "\n")
		}
	}
	return out.String()
}

// filterDeb822 keeps the enabled stanzas with a binary type and a suite of
// suite, limited to those types and suites; other fields stay verbatim.
func filterDeb822(b []byte, suite string) string {
	var out strings.Builder
	for _, stanza := range strings.Split(strings.ReplaceAll(string(b), "\r\n", "\n"), "\n\n") {
		type field struct{ name, value string }
		var fields []field
		for _, line := range strings.Split(stanza, "\n") {
			switch {
			case strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#"):
			case (line[0] == ' ' || line[0] == '\t') && len(fields) > 0:
				fields[len(fields)-1].value += "\n" + line
			default:
				name, value, _ := strings.Cut(line, ":")
				fields = append(fields, field{strings.TrimSpace(name), strings.TrimSpace(value)})
			}
		}
		get := func(name string) *string {
			for i := range fields {
				if strings.EqualFold(fields[i].name, name) {
					return &fields[i].value
				}
			}
			return nil
		}
		types, suites, enabled := get("Types"), get("Suites"), get("Enabled")
		if types == nil || suites == nil || !slices.Contains(strings.Fields(*types), "deb") ||
			(enabled != nil && strings.EqualFold(*enabled, "no")) {
			continue
		}
		var keep []string
		for _, s := range strings.Fields(*suites) {
			if suiteMatches(s, suite) {
				keep = append(keep, s)
			}
		}
		if len(keep) == 0 {
			continue
		}
		*types, *suites = "deb", strings.Join(keep, " ")
		for _, f := range fields {
			fmt.Fprintf(&out, "%s: %s\n", f.name, f.value)
		}
		out.WriteString("\n")
	}
	return out.String()
}
