package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// goodDir holds one valid input per folder; see its README.md.
const goodDir = "fixtures/good"

// Every case of the valid corpus is accepted (exit 0), leaves its own folder
// as it was, and a drives case is accepted again over its own output.
func TestGoodInputsAreAccepted(t *testing.T) {
	bin := e2e(t)
	in := newStandIns(t)
	n := forEachCase(t, goodDir, func(t *testing.T, dir string) {
		cs := corpusCase(t, dir, in, false)
		before := tree(t, filepath.Join("../..", dir))
		runs := 1
		if cs.args[0] == "drives" {
			runs = 2
		}
		for i := range runs {
			out, code := runE2EEnv(t, bin, cs.env, cs.args...)
			if code != 0 {
				t.Fatalf("run %d refused (exit %d): e2e %s\n%s", i+1, code, strings.Join(cs.args, " "), out)
			}
			for _, w := range cs.want {
				if !strings.Contains(out, w) {
					t.Errorf("e2e %s: output lacks %q:\n%s", strings.Join(cs.args, " "), w, out)
				}
			}
			// A warning the case must not draw, one per line.
			if data, err := os.ReadFile(filepath.Join("../..", dir, "unwanted")); err == nil {
				for l := range strings.SplitSeq(strings.TrimRight(string(data), "\n"), "\n") {
					if strings.Contains(out, l) {
						t.Errorf("e2e %s: output has the unwanted %q:\n%s", strings.Join(cs.args, " "), l, out)
					}
				}
			}
			if strings.Contains(out, "skipped:") {
				t.Errorf("e2e %s skipped a check, so the case proves nothing:\n%s", strings.Join(cs.args, " "), out)
			}
		}
		if after := tree(t, filepath.Join("../..", dir)); after != before {
			t.Errorf("e2e %s changed the case's folder:\n%s\nwas:\n%s", strings.Join(cs.args, " "), after, before)
		}
	})
	if n < 10 {
		t.Errorf("%s holds %d cases; it is meant to hold every class of valid input once refused", goodDir, n)
	}
}
