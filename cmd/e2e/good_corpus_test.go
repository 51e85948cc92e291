package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// goodCorpusDir holds one valid input per folder, laid out as a bad case
// (see fixtures/bad/README.md) except that want is optional and the
// command must succeed.
const goodCorpusDir = "fixtures/good"

// Every case of the good corpus must pass `e2e lint` (exit 0): lint is no
// stricter than the guest. A case's want lines (warnings it must print) must
// be in the output and its unwanted lines must not.
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
			dir := filepath.Join(goodCorpusDir, c.Name())
			args := []string{"lint"}
			if _, err := os.Stat(filepath.Join("../..", dir, "topology.yaml")); err == nil {
				args = append(args, "--topology", filepath.Join(dir, "topology.yaml"))
			}
			if _, err := os.Stat(filepath.Join("../..", dir, "overlay")); err == nil {
				args = append(args, "--overlay", filepath.Join(dir, "overlay"))
			}
			if _, err := os.Stat(filepath.Join("../..", dir, "templates")); err == nil {
				args = append(args, "--templates", overlayTemplates(t, filepath.Join("../..", dir, "templates")))
			}
			out, code := runE2E(t, bin, args...)
			if code != 0 {
				t.Fatalf("refused (exit %d): e2e %s\n%s", code, strings.Join(args, " "), out)
			}
			if strings.Contains(out, "skipped:") {
				t.Errorf("e2e %s skipped a check, so the case proves nothing:\n%s", strings.Join(args, " "), out)
			}
			for _, f := range []struct {
				name string
				want bool
			}{{"want", true}, {"unwanted", false}} {
				data, err := os.ReadFile(filepath.Join("../..", dir, f.name))
				if err != nil {
					continue
				}
				for _, l := range strings.Split(strings.TrimRight(string(data), "\n"), "\n") {
					if strings.Contains(out, l) != f.want {
						t.Errorf("e2e %s: %s line %q:\n%s", strings.Join(args, " "), f.name, l, out)
					}
				}
			}
		})
	}
	if n == 0 {
		t.Errorf("%s holds no cases", goodCorpusDir)
	}
}
