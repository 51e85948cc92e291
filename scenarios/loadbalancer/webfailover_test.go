package loadbalancer

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/drivelab/drivelab/scenarios/checks/checktest"
)

// The failover verdict: which haproxy statuses count as in and out of
// rotation, what a missing health check says, and that every request must
// avoid the stopped node.

func TestFailoverStatus(t *testing.T) {
	for status, want := range map[string][3]bool{ // {isUp, isDown, inRotation}
		"UP":       {true, false, true},
		"UP 1/2":   {false, false, false}, // failing checks already
		"DOWN":     {false, true, false},
		"DOWN 1/2": {false, true, false}, // recovering, not in rotation yet
		"no check": {false, false, true}, // in rotation, and stays there when dead
		"MAINT":    {false, false, false},
		"":         {false, false, false}, // the server is not in the stats at all
	} {
		if got := [3]bool{isUp(status), isDown(status), inRotation(status)}; got != want {
			t.Errorf("%q: isUp, isDown, inRotation = %v, want %v", status, got, want)
		}
	}
}

func TestFailoverStatusError(t *testing.T) {
	gaveUp := errors.New("gave up after 45s")
	// Without `check` on the server line haproxy never marks a stopped node DOWN.
	checktest.WantErr(t, statusError("web01", "DOWN", "no check", gaveUp), `never showed web01 DOWN (last status "no check"): gave up after 45s; haproxy notices a dead server only through health checks`)
	err := statusError("web01", "UP", "DOWN 1/2", gaveUp)
	checktest.WantErr(t, err, `never showed web01 UP (last status "DOWN 1/2")`)
	if strings.Contains(err.Error(), "health checks") {
		t.Errorf("a server with checks got the no-check hint: %v", err)
	}
}

func TestCheckAvoided(t *testing.T) {
	checktest.WantErr(t, checkAvoided("web01", map[string]int{"web02": 20}, 20), "")
	checktest.WantErr(t, checkAvoided("web01", map[string]int{"web02": 10, "web03": 10}, 20), "")
	// The stopped node still answered: haproxy kept it in rotation.
	checktest.WantErr(t, checkAvoided("web01", map[string]int{"web01": 1, "web02": 19}, 20), "while web01 was DOWN, 1 of 20 requests still reached it")
	// Fewer pages than requests: some request got no web node's page.
	checktest.WantErr(t, checkAvoided("web01", map[string]int{"web02": 19}, 20), "19 of 20 requests were answered")
}

// web_unit.sh, run by sh on this host with a stand-in systemctl, names the
// active web server unit, and fails when none is active.
func TestWebUnitNamesTheActiveServer(t *testing.T) {
	bin := t.TempDir()
	// The stand-in reports active the unit named in $ACTIVE only.
	if err := os.WriteFile(filepath.Join(bin, "systemctl"), []byte("#!/bin/sh\n[ \"$1 $2 $3\" = \"is-active --quiet $ACTIVE\" ]\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+":"+os.Getenv("PATH"))
	unit := func(active string) (string, error) {
		cmd := exec.Command("sh", "-c", webUnit)
		cmd.Env = append(os.Environ(), "ACTIVE="+active)
		out, err := cmd.Output()
		return string(out), err
	}
	for _, active := range []string{"apache2", "httpd"} {
		if out, err := unit(active); err != nil || out != active+"\n" {
			t.Errorf("with %s active: %q, %v", active, out, err)
		}
	}
	if out, err := unit("nginx"); err == nil {
		t.Errorf("with neither unit active: %q and success, want a failure", out)
	}
}
