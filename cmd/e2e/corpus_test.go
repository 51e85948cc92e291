package main

import (
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// corpusDir holds one bad input per folder; see its README.md.
const corpusDir = "fixtures/bad"

// Every case of the corpus must be refused, with a non-zero exit and each
// line of its want file in the output.
func TestBadInputsAreRefused(t *testing.T) {
	bin := e2e(t)
	cases, err := os.ReadDir(filepath.Join("../..", corpusDir))
	if err != nil {
		t.Fatal(err)
	}
	packages := t.TempDir()
	for _, f := range []string{"haproxy.tar.gz", "apache2.tar.gz", "haproxy.rpm", "httpd.tar.gz"} {
		writeFile(t, filepath.Join(packages, f), "placeholder "+f+"\n")
	}
	n := 0
	for _, c := range cases {
		if !c.IsDir() {
			continue
		}
		n++
		t.Run(c.Name(), func(t *testing.T) {
			dir := filepath.Join(corpusDir, c.Name())
			if s, err := os.ReadFile(filepath.Join("../..", dir, "cpus-below")); err == nil {
				if n, _ := strconv.Atoi(strings.TrimSpace(string(s))); runtime.NumCPU() >= n {
					t.Skipf("the case needs a host of fewer than %d CPUs; this one has %d", n, runtime.NumCPU())
				}
			}
			args, want, code := corpusCase(t, dir, packages)
			out, got := runE2E(t, bin, args...)
			if got == 0 {
				t.Fatalf("accepted (exit 0): e2e %s\n%s", strings.Join(args, " "), out)
			}
			if got != code {
				t.Errorf("exit %d, want %d", got, code)
			}
			for _, w := range want {
				if !strings.Contains(out, w) {
					t.Errorf("e2e %s: output lacks %q:\n%s", strings.Join(args, " "), w, out)
				}
			}
		})
	}
	if n < 40 {
		t.Errorf("%s holds %d cases; the corpus is meant to cover every class of bad input", corpusDir, n)
	}
}

// corpusCase reads a case folder (relative to the repository root) into the
// command's arguments, the substrings its output must hold and its exit code.
func corpusCase(t *testing.T, dir, packages string) (args, want []string, code int) {
	t.Helper()
	root := "../.."
	read := func(name string) (string, bool) {
		data, err := os.ReadFile(filepath.Join(root, dir, name))
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		return string(data), err == nil
	}
	exists := func(name string) bool {
		_, err := os.Stat(filepath.Join(root, dir, name))
		return err == nil
	}
	w, ok := read("want")
	if !ok || strings.TrimSpace(w) == "" {
		t.Fatalf("%s/want is missing or empty: give the message the case must produce", dir)
	}
	for _, l := range strings.Split(strings.TrimRight(w, "\n"), "\n") {
		want = append(want, l)
	}
	code = 1
	if s, ok := read("exit"); ok {
		var err error
		if code, err = strconv.Atoi(strings.TrimSpace(s)); err != nil {
			t.Fatalf("%s/exit: %v", dir, err)
		}
	}
	out := filepath.Join(t.TempDir(), "drives")
	expand := strings.NewReplacer("{case}", dir, "{packages}", packages, "{out}", out)
	if s, ok := read("args"); ok {
		for _, a := range strings.Split(strings.TrimRight(s, "\n"), "\n") {
			if a != "" || s != "\n" {
				args = append(args, expand.Replace(a))
			}
		}
	} else {
		args = []string{"lint"}
	}
	if len(args) > 0 && (args[0] == "lint" || args[0] == "drives") {
		if exists("topology.yaml") {
			args = append(args, "--topology", filepath.Join(dir, "topology.yaml"))
		}
		if exists("overlay") && !strings.Contains(s(args), "--overlay") {
			args = append(args, "--overlay", filepath.Join(dir, "overlay"))
		}
		if exists("templates") {
			args = append(args, "--templates", overlayTemplates(t, filepath.Join(root, dir, "templates")))
		}
	}
	return args, want, code
}

func s(args []string) string { return strings.Join(args, " ") }

// overlayTemplates copies fixtures/templates to a temporary folder and lays
// the case's files over it.
func overlayTemplates(t *testing.T, caseTemplates string) string {
	t.Helper()
	dst := t.TempDir()
	for _, src := range []string{"../../fixtures/templates", caseTemplates} {
		err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			rel, _ := filepath.Rel(src, p)
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			writeFile(t, filepath.Join(dst, rel), string(data))
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return dst
}
