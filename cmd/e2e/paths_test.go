package main

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/drivelab/drivelab/framework/testenv"
)

// The notes and the seed the project started from sat in a shared/ folder
// beside the repository, which a clone does not have: comments and
// fixtures name paths inside the repository only (the seed's drive files
// are in fixtures/seed/).
var outsidePathRE = regexp.MustCompile(`(^|[^A-Za-z0-9_.-])(\.\./)*shared/`)

// thisFile names the pattern, so it is the one file allowed to.
const thisFile = "cmd/e2e/paths_test.go"

// outsidePaths returns "name:line: text" for each line of data that names a
// path outside the repository.
func outsidePaths(name string, data []byte) []string {
	var out []string
	for i, line := range bytes.Split(data, []byte("\n")) {
		if outsidePathRE.Match(line) {
			out = append(out, fmt.Sprintf("%s:%d: %s", name, i+1, strings.TrimSpace(string(line))))
		}
	}
	return out
}

func TestOutsidePathsFindsEveryMention(t *testing.T) {
	for text, want := range map[string]bool{
		"# The seed (shared/seed/000_deeb5144ffcad547.txt):": true,
		"see ../shared/notes/field-notes.md":                 true,
		"shared/notes/field-notes.md says so":                true,
		"`shared/seed`":                                      true,
		"/mnt/shared/x":                                      true,
		"the shared hosts file":                              false,
		"a node's own template beats the shared one":         false,
		"fixtures/seed/README.md":                            false,
		"my-shared/x or not_shared/y":                        false,
	} {
		got := outsidePaths("f", []byte("first line\n"+text+"\n"))
		if (len(got) > 0) != want {
			t.Errorf("%q: found %q, want a mention: %v", text, got, want)
		}
		if want && len(got) == 1 && !strings.HasPrefix(got[0], "f:2: ") {
			t.Errorf("%q: reported as %q, want it at f:2", text, got[0])
		}
	}
}

// Every file git tracks or would track (untracked but not ignored) names
// paths inside the repository only.
func TestNoPathsOutsideTheRepository(t *testing.T) {
	root := filepath.Join("..", "..")
	list, err := exec.Command("git", "-C", root, "ls-files", "-z", "--cached", "--others", "--exclude-standard").Output()
	if err != nil {
		testenv.Skip(t, "git cannot list the repository's files here (%v): not a checkout", err)
	}
	var found []string
	n := 0
	for _, name := range strings.Split(strings.TrimRight(string(list), "\x00"), "\x00") {
		if name == "" || name == thisFile {
			continue
		}
		data, err := os.ReadFile(filepath.Join(root, name))
		if target, lerr := os.Readlink(filepath.Join(root, name)); lerr == nil {
			data, err = []byte(target), nil // a symlink (fixtures/good): its target is the path it names
		}
		if errors.Is(err, fs.ErrNotExist) {
			continue // deleted in the working tree
		}
		if err != nil {
			t.Fatal(err)
		}
		n++
		found = append(found, outsidePaths(name, data)...)
	}
	if n < 100 {
		t.Fatalf("read %d files; expected the whole repository", n)
	}
	if len(found) > 0 {
		t.Errorf("these lines name paths outside the repository, which a clone does not have; name the file inside it (e.g. fixtures/seed/) or drop the reference:\n%s", strings.Join(found, "\n"))
	}
}
