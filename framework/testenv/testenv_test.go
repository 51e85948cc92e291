package testenv_test

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/drivelab/drivelab/framework/testenv"
)

// The helper's verdicts are the outcome of a test binary, so each case runs
// this binary again on TestHelperCase with the environment make test sets
// or not, and reads the outcome go test prints.

// TestHelperCase runs the case named by TESTENV_CASE; it does nothing
// when run directly.
func TestHelperCase(t *testing.T) {
	switch os.Getenv("TESTENV_CASE") {
	case "tool":
		testenv.Tool(t, "drivelab-no-such-tool")
	case "root":
		if os.Geteuid() == 0 {
			testenv.Skip(t, "runs as root; the case needs a user")
		}
		testenv.Root(t)
	case "have":
		if !testenv.Have(t, false, "no haproxy") {
			t.Log("checked without haproxy")
		}
	case "skip":
		testenv.Skip(t, "needs a running lab")
	case "present":
		testenv.Tool(t, "sh")
		testenv.Need(t, true, "never said")
	}
}

func outcome(t *testing.T, name string, require bool) (out string, log string) {
	t.Helper()
	log = filepath.Join(t.TempDir(), "skips")
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperCase$", "-test.v")
	cmd.Env = append(os.Environ(), "TESTENV_CASE="+name, testenv.SkipLogEnv+"="+log, testenv.RequireEnv+"=")
	if require {
		cmd.Env = append(cmd.Env, testenv.RequireEnv+"=1")
	}
	b, _ := cmd.CombinedOutput()
	l, _ := os.ReadFile(log)
	return string(b), string(l)
}

func TestMissingToolSkipsUnlessMakeTestPromisedIt(t *testing.T) {
	for _, c := range []struct {
		name    string
		require bool
		want    string
		wantLog string
	}{
		{"tool", false, "--- SKIP", "framework/testenv TestHelperCase: drivelab-no-such-tool is not on PATH (make test provides it)\n"},
		{"tool", true, "--- FAIL", ""},
		{"have", false, "--- PASS", "framework/testenv TestHelperCase: checked in part: no haproxy\n"},
		{"have", true, "--- FAIL", ""},
		// What make test does not provide skips under it too, and says why.
		{"skip", false, "--- SKIP", "framework/testenv TestHelperCase: needs a running lab\n"},
		{"skip", true, "--- SKIP", "framework/testenv TestHelperCase: needs a running lab\n"},
		{"present", true, "--- PASS", ""},
	} {
		out, log := outcome(t, c.name, c.require)
		if !strings.Contains(out, c.want+": TestHelperCase") {
			t.Errorf("%s with require=%v: want %s, got\n%s", c.name, c.require, c.want, out)
		}
		if log != c.wantLog {
			t.Errorf("%s with require=%v: skip log %q, want %q", c.name, c.require, log, c.wantLog)
		}
	}
	if out, _ := outcome(t, "tool", true); !strings.Contains(out, "drivelab-no-such-tool is not on PATH; make test provides it (DRIVELAB_REQUIRE_TOOLS is set), so this test may not skip") {
		t.Errorf("the failure does not say why:\n%s", out)
	}
}

func TestRootSkipsUnlessMakeTestPromisedIt(t *testing.T) {
	if os.Geteuid() == 0 {
		testenv.Skip(t, "runs as root: Root cannot be seen to miss it")
	}
	if out, _ := outcome(t, "root", false); !strings.Contains(out, "--- SKIP: TestHelperCase") {
		t.Errorf("without root, plain go test: %s", out)
	}
	if out, _ := outcome(t, "root", true); !strings.Contains(out, "--- FAIL: TestHelperCase") {
		t.Errorf("without root, make test: %s", out)
	}
}

// Every test skips through this package, so that make test sees each skip:
// a bare t.Skip would pass unseen.
func TestNoTestSkipsOnItsOwn(t *testing.T) {
	root := filepath.Join("..", "..")
	bare := regexp.MustCompile(`\b(t|b|tb)\.Skip(f|Now)?\(`)
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		switch {
		case err != nil:
			return err
		case d.IsDir() && path != root && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata" || path == filepath.Join(root, "suites", "e2e")):
			// Hidden folders are git's and other trees (.bench's baseline);
			// suites/e2e boots guests under Ginkgo: never run by make test.
			return filepath.SkipDir
		case d.IsDir() || !strings.HasSuffix(path, "_test.go") || filepath.Dir(path) == ".":
			return nil
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		for n := 1; sc.Scan(); n++ {
			if bare.MatchString(sc.Text()) {
				t.Errorf("%s:%d skips on its own; use testenv.Tool, Root, Need or Skip: %s", path, n, strings.TrimSpace(sc.Text()))
			}
		}
		return sc.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
}
