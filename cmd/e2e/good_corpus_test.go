package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// goodCorpusDir holds one valid input per folder, laid out as a case of
// fixtures/bad (topology.yaml, overlay/, templates/, args) without `want`.
const goodCorpusDir = "fixtures/good"

// Every case of the valid corpus must be accepted: lint exactly as strict
// as the guest refuses nothing the guest takes.
func TestGoodInputsAreAccepted(t *testing.T) {
	bin := e2e(t)
	cases, err := os.ReadDir(filepath.Join("../..", goodCorpusDir))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, c := range cases {
		if !c.IsDir() {
			continue
		}
		n++
		t.Run(c.Name(), func(t *testing.T) {
			args := goodCase(t, filepath.Join(goodCorpusDir, c.Name()))
			if out, code := runE2E(t, bin, args...); code != 0 {
				t.Errorf("refused (exit %d): e2e %s\n%s", code, strings.Join(args, " "), out)
			}
		})
	}
	if n == 0 {
		t.Errorf("%s holds no cases", goodCorpusDir)
	}
}

// goodCase reads a case folder (relative to the repository root) into the
// command's arguments, as corpusCase does for a bad one.
func goodCase(t *testing.T, dir string) []string {
	t.Helper()
	root := "../.."
	exists := func(name string) bool {
		_, err := os.Stat(filepath.Join(root, dir, name))
		return err == nil
	}
	args := []string{"lint"}
	if data, err := os.ReadFile(filepath.Join(root, dir, "args")); err == nil {
		args = strings.Fields(strings.ReplaceAll(string(data), "{case}", dir))
	}
	if exists("topology.yaml") {
		args = append(args, "--topology", filepath.Join(dir, "topology.yaml"))
	}
	if exists("overlay") {
		args = append(args, "--overlay", filepath.Join(dir, "overlay"))
	}
	if exists("templates") {
		args = append(args, "--templates", overlayTemplates(t, filepath.Join(root, dir, "templates")))
	}
	return args
}
