// Package testenv is how a test says what it needs from the host, so that
// no test passes by skipping quietly.
//
// Under plain `go test` a test whose tool or root is missing skips and says
// why. `make test` installs the tools its tests talk to (TEST_PKGS) and runs
// as root, and sets DRIVELAB_REQUIRE_TOOLS=1: there the same lack fails the
// test, since it means make test's promise was not kept. What make test does
// not provide (a running lab, KVM, an opt-in variable) goes through Skip,
// which skips everywhere. Every skip, and every test that checked less for
// want of a tool (Have), is appended to the file DRIVELAB_SKIP_LOG names,
// from which make test prints its closing summary line.
package testenv

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

const (
	// RequireEnv, set (to anything but ""), turns a missing tool or root
	// into a failure: make test sets it.
	RequireEnv = "DRIVELAB_REQUIRE_TOOLS"
	// SkipLogEnv names a file each skip is appended to, a line each.
	SkipLogEnv = "DRIVELAB_SKIP_LOG"
)

// Required reports whether this run promised the tools and root (make test).
func Required() bool { return os.Getenv(RequireEnv) != "" }

// Tool returns the path of command as exec.LookPath finds it. Without it
// the test skips, or fails under make test, which installs it.
func Tool(t testing.TB, command string) string {
	t.Helper()
	path, err := exec.LookPath(command)
	Need(t, err == nil, "%s is not on PATH", command)
	return path
}

// Root skips the test unless it runs as root, or fails under make test,
// which runs as root.
func Root(t testing.TB) {
	t.Helper()
	Need(t, os.Geteuid() == 0, "needs root")
}

// Need skips the test, saying why, unless ok: for what make test provides
// that is not a command on PATH (a Python module, a tool in /usr/sbin).
// Under make test it fails the test instead.
func Need(t testing.TB, ok bool, format string, args ...any) {
	t.Helper()
	if ok {
		return
	}
	why := fmt.Sprintf(format, args...)
	if Required() {
		t.Fatalf("%s; make test provides it (%s is set), so this test may not skip", why, RequireEnv)
	}
	skip(t, why+" (make test provides it)")
}

// Have reports ok, for a test that checks less without something make test
// provides: without it the test logs what it left out (and the skip log
// records it), and under make test it fails.
func Have(t testing.TB, ok bool, format string, args ...any) bool {
	t.Helper()
	if ok {
		return true
	}
	why := fmt.Sprintf(format, args...)
	if Required() {
		t.Fatalf("%s; make test provides it (%s is set), so this test may not check less", why, RequireEnv)
	}
	record(t, "checked in part: "+why)
	t.Logf("checked in part: %s (make test provides it)", why)
	return false
}

// Skip skips the test for something make test does not provide (a running
// lab, an opt-in variable, -update), saying why; it skips under make test
// too, and the summary counts it.
func Skip(t testing.TB, format string, args ...any) {
	t.Helper()
	skip(t, fmt.Sprintf(format, args...))
}

func skip(t testing.TB, why string) {
	t.Helper()
	record(t, why)
	t.Skip("SKIPPED: " + why)
}

// record appends "<package> <test>: why" to the skip log, in one write so
// that the test binaries go test runs at once do not interleave lines.
func record(t testing.TB, why string) {
	path := os.Getenv(SkipLogEnv)
	if path == "" {
		return
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err == nil {
		_, err = f.WriteString(fmt.Sprintf("%s %s: %s\n", pkg(), t.Name(), why))
		err = errors.Join(err, f.Close())
	}
	if err != nil {
		t.Logf("recording the skip in %s: %v", path, err)
	}
}

// pkg is the test's package folder within the module (go test runs a test
// binary in its package's folder), or the folder's name outside one.
func pkg() string {
	wd, err := os.Getwd()
	if err != nil {
		return "?"
	}
	for dir := wd; ; dir = filepath.Dir(dir) {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			if rel, err := filepath.Rel(dir, wd); err == nil {
				return rel
			}
			break
		}
		if filepath.Dir(dir) == dir {
			break
		}
	}
	return filepath.Base(wd)
}
