package main

import (
	"crypto/sha256"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/drivelab/drivelab/framework/testenv"
)

// corpusDir holds one bad input per folder; see its README.md.
const corpusDir = "fixtures/bad"

// Every case of the corpus must be refused, with a non-zero exit and each
// line of its want file in the output, and leave its own folder as it was
// (a case's --out may hold files that must survive).
func TestBadInputsAreRefused(t *testing.T) {
	bin := e2e(t)
	in := newStandIns(t)
	n := forEachCase(t, corpusDir, func(t *testing.T, dir string) {
		if s, err := os.ReadFile(filepath.Join("../..", dir, "cpus-below")); err == nil {
			if n, _ := strconv.Atoi(strings.TrimSpace(string(s))); runtime.NumCPU() >= n {
				testenv.Skip(t, "the case needs a host of fewer than %d CPUs; this one has %d", n, runtime.NumCPU())
			}
		}
		cs := corpusCase(t, dir, in, true)
		before := tree(t, filepath.Join("../..", dir))
		out, got := runE2EEnv(t, bin, cs.env, cs.args...)
		if got == 0 {
			t.Fatalf("accepted (exit 0): e2e %s\n%s", strings.Join(cs.args, " "), out)
		}
		if got != cs.code {
			t.Errorf("exit %d, want %d", got, cs.code)
		}
		for _, w := range cs.want {
			if !strings.Contains(out, w) {
				t.Errorf("e2e %s: output lacks %q:\n%s", strings.Join(cs.args, " "), w, out)
			}
		}
		if after := tree(t, filepath.Join("../..", dir)); after != before {
			t.Errorf("e2e %s changed the case's folder:\n%s\nwas:\n%s", strings.Join(cs.args, " "), after, before)
		}
	})
	if n < 40 {
		t.Errorf("%s holds %d cases; the corpus is meant to cover every class of bad input", corpusDir, n)
	}
}

// forEachCase runs each case folder of corpus (relative to the repository)
// as a subtest and returns how many there are.
func forEachCase(t *testing.T, corpus string, run func(t *testing.T, dir string)) int {
	t.Helper()
	cases, err := os.ReadDir(filepath.Join("../..", corpus))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, c := range cases {
		if c.IsDir() {
			n++
			t.Run(c.Name(), func(t *testing.T) { run(t, filepath.Join(corpus, c.Name())) })
		}
	}
	return n
}

// standIns are the stand-ins a case's args may name: placeholder
// packages, a FIFO and a topology over the size limit.
type standIns struct{ packages, fifo, big string }

func newStandIns(t *testing.T) standIns {
	t.Helper()
	in := standIns{packages: t.TempDir()}
	for _, f := range []string{"haproxy.tar.gz", "apache2.tar.gz", "haproxy.rpm", "httpd.tar.gz"} {
		writeFile(t, filepath.Join(in.packages, f), "placeholder "+f+"\n")
	}
	in.fifo = filepath.Join(t.TempDir(), "topology.yaml")
	if err := syscall.Mkfifo(in.fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	in.big = filepath.Join(t.TempDir(), "topology.yaml")
	writeFile(t, in.big, strings.Repeat("# a comment line to make the topology big\n", 2<<20/40))
	return in
}

// tree lists a folder's files and their contents, for comparison.
func tree(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		fmt.Fprintf(&b, "%s %v", p, info.Mode())
		if info.Mode().IsRegular() {
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			fmt.Fprintf(&b, " %x", sha256.Sum256(data))
		}
		b.WriteString("\n")
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// aCase is one corpus case as the command runs it.
type aCase struct {
	args, env, want []string
	code            int
}

// corpusCase reads a case folder (relative to the repository root) into the
// command's arguments and environment, the substrings its output must hold
// and its exit code; a want file is required when needWant.
func corpusCase(t *testing.T, dir string, in standIns, needWant bool) (c aCase) {
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
	lines := func(s string) []string { return strings.Split(strings.TrimRight(s, "\n"), "\n") }
	w, ok := read("want")
	if needWant && (!ok || strings.TrimSpace(w) == "") {
		t.Fatalf("%s/want is missing or empty: give the message the case must produce", dir)
	}
	if ok {
		c.want = lines(w)
	}
	c.code = 1
	if s, ok := read("exit"); ok {
		var err error
		if c.code, err = strconv.Atoi(strings.TrimSpace(s)); err != nil {
			t.Fatalf("%s/exit: %v", dir, err)
		}
	}
	out := filepath.Join(t.TempDir(), "drives")
	expand := strings.NewReplacer("{case}", dir, "{packages}", in.packages, "{out}", out, "{fifo}", in.fifo, "{big}", in.big)
	if s, ok := read("args"); ok {
		for _, a := range lines(s) {
			if a != "" || s != "\n" {
				c.args = append(c.args, expand.Replace(a))
			}
		}
	} else {
		c.args = []string{"lint"}
	}
	if s, ok := read("env"); ok {
		for _, e := range lines(s) {
			c.env = append(c.env, expand.Replace(e))
		}
	}
	if len(c.args) > 0 && (c.args[0] == "lint" || c.args[0] == "drives") {
		if exists("topology.yaml") {
			c.args = append(c.args, "--topology", filepath.Join(dir, "topology.yaml"))
		}
		if exists("overlay") && !strings.Contains(s(c.args), "--overlay") {
			c.args = append(c.args, "--overlay", filepath.Join(dir, "overlay"))
		}
		if exists("templates") {
			c.args = append(c.args, "--templates", overlayTemplates(t, filepath.Join(root, dir, "templates")))
		}
	}
	return c
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
