package ci

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// hack/same-verdicts, which .ci/run uses to hold the cold leg against the
// restored one: the same tables agree whatever the run ids, times and boot
// path; a changed cell or a scenario only one run has fails.
func TestSameVerdicts(t *testing.T) {
	table := "node     hostname  identity\ntest2    pass      %s\n"
	write := func(root, scenario, run, bootPath, cell, time string) {
		t.Helper()
		dir := filepath.Join(root, scenario, run)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		body := "boot path: " + bootPath + "; accelerator: qemu\n" + strings.Replace(table, "%s", cell, 1) +
			"time     " + time + "\nall nodes ready after " + time + "\n"
		if err := os.WriteFile(filepath.Join(dir, "verdict.txt"), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	run := func(a, b string) (string, bool) {
		out, err := exec.Command("../hack/same-verdicts", a, b).CombinedOutput()
		return string(out), err == nil
	}
	restored, cold, changed, fewer := t.TempDir(), t.TempDir(), t.TempDir(), t.TempDir()
	for _, sc := range []string{"loadbalancer", "cloudconfig"} {
		write(restored, sc, "20261205-123114-8c0b", "restored", "pass", "1.0s")
		write(cold, sc, "20261205-123343-667f", "cold", "pass", "2.5s")
		write(changed, sc, "20261205-130000-0001", "cold", map[string]string{"loadbalancer": "FAIL"}[sc]+"pass", "2.5s")
	}
	write(fewer, "loadbalancer", "20261205-130000-0002", "cold", "pass", "2.5s")
	if out, ok := run(restored, cold); !ok || !strings.Contains(out, "2 scenario verdict(s) agree") {
		t.Errorf("the same tables: %s", out)
	}
	if out, ok := run(restored, changed); ok || !strings.Contains(out, "loadbalancer/verdict.txt: the verdicts differ") {
		t.Errorf("a changed cell: %s", out)
	}
	if out, ok := run(restored, fewer); ok || !strings.Contains(out, "the runs judged different scenarios") {
		t.Errorf("a scenario missing: %s", out)
	}
	if out, ok := run(t.TempDir(), t.TempDir()); ok {
		t.Errorf("no verdict at all: %s", out)
	}
}
