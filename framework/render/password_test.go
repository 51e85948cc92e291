package render_test

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/drivelab/drivelab/framework/render"
	"github.com/drivelab/drivelab/framework/testenv"
)

// passwordLine runs the line of a user_data script that sets root's
// password, with the setter replaced by a loop printing what it reads, and
// returns that: the shell must hand the setter the password exactly. A
// broken template would run part of the password as a command, so the line
// runs in a restricted bash (no redirection, no cd) with no PATH, in an
// empty folder.
func passwordLine(t testing.TB, userData []byte) (string, bool) {
	t.Helper()
	for _, line := range strings.Split(string(userData), "\n") {
		for _, setter := range []string{"| passwd --stdin root", "| chpasswd"} {
			if cmd, ok := strings.CutSuffix(line, setter); ok && strings.HasPrefix(cmd, "echo ") {
				sh := exec.Command("bash", "-r", "-c", cmd+`| while IFS= read -r l || [ -n "$l" ]; do printf '%s\n' "$l"; done`)
				sh.Env, sh.Dir = []string{"PATH=/nonexistent"}, t.TempDir()
				out, err := sh.Output()
				if err != nil {
					t.Fatalf("%s: %v", line, err)
				}
				return string(out), true
			}
		}
	}
	return "", false
}

// centos7's user_data quotes a password only where the shell needs it: a
// password such as `p w;$(touch /tmp/x)` reaches passwd as written.
func TestPasswordsReachTheSetterAsWritten(t *testing.T) {
	testenv.Tool(t, "bash")
	for _, pw := range []string{"test2", "p w;$(touch /tmp/drivelab-pwned)", "it's", `back\slash`, "*", "a`id`", "~root", "-x", "$HOME"} {
		for _, flavor := range []string{"centos7", "debian12"} {
			topo := reference(t)
			topo.Nodes[0].Password = pw
			ds, err := renderRef(t, render.Input{Topology: topo, Flavor: flavor})
			if err != nil {
				t.Fatal(err)
			}
			got, ok := passwordLine(t, ds[0].UserData)
			want := pw + "\n"
			if flavor == "debian12" {
				want = "root:" + want
			}
			if !ok || got != want {
				t.Errorf("%s, password %q: the setter reads %q, want %q\n%s", flavor, pw, got, want, ds[0].UserData)
			}
		}
	}
	// The seed's own passwords render as the seed has them (fixtures/golden).
	ds, err := renderRef(t, render.Input{Flavor: "centos7"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(ds[0].UserData), "\necho test2 | passwd --stdin root\n") {
		t.Errorf("test2's line differs from the seed's:\n%s", ds[0].UserData)
	}
}
