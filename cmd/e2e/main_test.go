package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/drivelab/drivelab/framework/configdrive"
)

func TestHelpExitsZero(t *testing.T) {
	bin := e2e(t)
	for _, args := range [][]string{{"-h"}, {"--help"}, {"help"}, {"lint", "-h"}, {"drives", "--help"}, {"lab", "up", "-h"}} {
		if out, code := runE2E(t, bin, args...); code != 0 || !strings.Contains(out, "usage") && !strings.Contains(out, "Usage") {
			t.Errorf("e2e %s: exit %d, want 0 with the usage:\n%s", strings.Join(args, " "), code, out)
		}
	}
}

func TestInterruptSaysSo(t *testing.T) {
	ctx, cancel := context.WithCancelCause(context.Background())
	cancel(interrupted{os.Interrupt})
	var b strings.Builder
	code := exitCode(ctx, "drives", fmt.Errorf("%w; out/drives is as it was", context.Canceled), &b)
	if code != 130 || !strings.Contains(b.String(), "e2e drives: stopped by SIGINT (Ctrl-C) before it finished (context canceled; out/drives is as it was)") {
		t.Errorf("exit %d: %s", code, b.String())
	}
	// SIGTERM by its name, not Go's "terminated".
	b.Reset()
	ctxTerm, cancelTerm := context.WithCancelCause(context.Background())
	cancelTerm(interrupted{syscall.SIGTERM})
	if exitCode(ctxTerm, "lint", context.Canceled, &b); !strings.Contains(b.String(), "e2e lint: stopped by SIGTERM before it finished") {
		t.Errorf("SIGTERM: %s", b.String())
	}
	// After the signal, any failure is the signal's.
	b.Reset()
	if code := exitCode(ctx, "drives", errors.New("writing files: context canceled"), &b); code != 130 {
		t.Errorf("exit %d: %s", code, b.String())
	}
	// Cancelled for another reason, it is an ordinary error.
	b.Reset()
	if code := exitCode(context.Background(), "drives", context.Canceled, &b); code != 1 || strings.Contains(b.String(), "SIGINT") {
		t.Errorf("exit %d: %s", code, b.String())
	}
}

// An `e2e drives` interrupted at any moment leaves its folder either as it
// was or complete: never a manifest naming a missing drive.
func TestDrivesInterruptedLeavesFolderWhole(t *testing.T) {
	bin := e2e(t)
	pkgs, out := t.TempDir(), filepath.Join(t.TempDir(), "drives")
	for _, f := range []string{"haproxy.tar.gz", "apache2.tar.gz"} {
		// Big enough that writing the drives takes a while.
		if err := os.WriteFile(filepath.Join(pkgs, f), make([]byte, 16<<20), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if msg, code := runE2E(t, bin, "drives", "--packages", pkgs, "--out", out); code != 0 {
		t.Fatalf("exit %d:\n%s", code, msg)
	}
	before := listing(t, out)
	topo3, _ := filepath.Abs("../../fixtures/topology-web3.yaml")
	for _, delay := range []time.Duration{0, 20 * time.Millisecond, 60 * time.Millisecond, 120 * time.Millisecond, 250 * time.Millisecond} {
		cmd := exec.Command(bin, "drives", "--packages", pkgs, "--out", out, "--topology", topo3)
		cmd.Dir = "../.."
		var stderr strings.Builder
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(delay)
		cmd.Process.Signal(syscall.SIGINT)
		err := cmd.Wait()
		t.Logf("SIGINT after %v: %v %s", delay, err, stderr.String())
		var exit *exec.ExitError
		switch after := listing(t, out); {
		case err == nil:
			if !strings.Contains(after, "web03.iso") {
				t.Errorf("after %v: exit 0 but no web03 drive:\n%s", delay, after)
			}
			return // complete; later delays would only repeat it
		case errors.As(err, &exit) && exit.ExitCode() == 130:
			if !strings.Contains(stderr.String(), "stopped by SIGINT (Ctrl-C) before it finished") {
				t.Errorf("after %v: %s", delay, stderr.String())
			}
			fallthrough
		default: // killed before the handler was installed
			if after != before {
				t.Errorf("after %v (%v): the folder changed:\n%s\nwas:\n%s", delay, err, after, before)
			}
		}
	}
}

// listing is the folder's files and the manifest's drives, for comparison.
func listing(t *testing.T, dir string) string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, e := range entries {
		fmt.Fprintln(&b, e.Name())
	}
	data, err := os.ReadFile(filepath.Join(dir, configdrive.ManifestFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if img, ok := strings.CutPrefix(strings.TrimSpace(line), `"image": "`); ok {
			img = strings.TrimSuffix(img, `",`)
			if _, err := os.Stat(filepath.Join(dir, img)); err != nil {
				t.Errorf("the manifest names %s, which is missing", img)
			}
		}
	}
	return b.String()
}

// --force writes drives lint rejects, and says so.
func TestDrivesForce(t *testing.T) {
	bin := e2e(t)
	pkgs, out := t.TempDir(), filepath.Join(t.TempDir(), "drives")
	for _, f := range []string{"haproxy.tar.gz", "apache2.tar.gz"} {
		writeFile(t, filepath.Join(pkgs, f), "placeholder\n")
	}
	overlay, _ := filepath.Abs("../../fixtures/bad/drives-lint-fails/overlay")
	args := []string{"drives", "--packages", pkgs, "--out", out, "--overlay", overlay}
	if msg, code := runE2E(t, bin, args...); code != 1 || !strings.Contains(msg, "nothing written") {
		t.Fatalf("without --force: exit %d:\n%s", code, msg)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Fatalf("without --force %s was written: %v", out, err)
	}
	msg, code := runE2E(t, bin, append(args, "--force")...)
	if code != 0 || !strings.Contains(msg, "WARNING: --force: writing drives that lint rejects") || !strings.Contains(msg, `user_data starts with "echo hi"`) {
		t.Fatalf("with --force: exit %d:\n%s", code, msg)
	}
	if _, err := os.Stat(filepath.Join(out, "test2.iso")); err != nil {
		t.Error(err)
	}
}

// SIGTERM or SIGINT during a runaway template ends lint and drives within a
// second, with exit 130 and nothing written: rendering checks the context.
func TestSignalStopsRenderingWithinASecond(t *testing.T) {
	bin := e2e(t)
	pkgs := t.TempDir()
	for _, f := range []string{"haproxy.tar.gz", "apache2.tar.gz"} {
		writeFile(t, filepath.Join(pkgs, f), "placeholder\n")
	}
	// The loop that writes nothing renders for its whole 10 s limit; the one
	// that writes reaches its 16 MiB cap within the second on a quiet
	// machine (its corpus case shows that stop).
	for _, loop := range []string{"template-runaway-silent"} {
		overlay, _ := filepath.Abs("../../fixtures/bad/" + loop + "/overlay")
		for _, sig := range []os.Signal{syscall.SIGTERM, os.Interrupt} {
			parent := t.TempDir()
			out := filepath.Join(parent, "new", "drives")
			for _, args := range [][]string{{"lint", "--overlay", overlay}, {"drives", "--packages", pkgs, "--out", out, "--overlay", overlay}} {
				cmd := exec.Command(bin, args...)
				cmd.Dir = "../.."
				var stderr strings.Builder
				cmd.Stderr = &stderr
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				time.Sleep(time.Second) // rendering by now
				cmd.Process.Signal(sig)
				sent := time.Now()
				err := cmd.Wait()
				took := time.Since(sent)
				t.Logf("%s, %s %s: exit after %v: %v", loop, sig, args[0], took, err)
				var exit *exec.ExitError
				if !errors.As(err, &exit) || exit.ExitCode() != 130 || took > time.Second {
					t.Errorf("%s, %s during e2e %s: %v after %v, want exit 130 within 1s\n%s", loop, sig, args[0], err, took, stderr.String())
				}
				if left, _ := os.ReadDir(parent); len(left) != 0 {
					t.Errorf("%s, %s during e2e %s: left %v in %s", loop, sig, args[0], left, parent)
				}
			}
		}
	}
}
