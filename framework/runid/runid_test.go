package runid

import (
	"strings"
	"testing"
	"time"
)

func TestNewIsValidAndCarriesItsStart(t *testing.T) {
	id := New()
	if err := id.Check(); err != nil {
		t.Fatal(err)
	}
	start, ok := id.Started()
	if !ok || time.Since(start) > time.Minute || time.Since(start) < -time.Minute {
		t.Errorf("%s: start %v (%v), want about now", id, start, ok)
	}
	if New() == New() && New() == New() {
		t.Error("four ids in a row were the same")
	}
}

func TestParseRefusesWhatCannotNameResources(t *testing.T) {
	for _, bad := range []string{"", "../etc", "Run1", "-r", "a/b", strings.Repeat("a", 25), "r 1"} {
		if _, err := Parse(bad); err == nil || !strings.Contains(err.Error(), "runid.New makes one") {
			t.Errorf("Parse(%q) = %v, want a refusal saying how to make one", bad, err)
		}
	}
	if _, ok := ID("kept-lab").Started(); ok {
		t.Error("an id without a start time has one")
	}
}

// Every name of a run comes from its id, and two runs share none.
func TestNamesAreDerivedAndDistinct(t *testing.T) {
	a, b := ID("20261205-140004-5a18"), ID("20261205-140004-5a19")
	for name, f := range map[string]func(ID) string{
		"domain":    func(id ID) string { return id.Domain("web01") },
		"console":   func(id ID) string { return id.ConsoleLog("/art", "web01") },
		"namespace": func(id ID) string { return id.Namespace("drivelab") },
		"bridge":    func(id ID) string { return id.Bridge("drivelab") },
		"claim":     func(id ID) string { return id.ClaimFile("/run/drivelab/runs") },
		"state":     func(id ID) string { return id.StateDir("/var/lib/drivelab") },
		"artifacts": func(id ID) string { return id.ArtifactsDir("artifacts") },
	} {
		if f(a) == f(b) {
			t.Errorf("%s: two runs share %q", name, f(a))
		}
	}
	if got := a.Domain("web01"); got != "dl-20261205-140004-5a18-web01" {
		t.Errorf("domain %q", got)
	}
	if got := a.ConsoleLog("/art", "web01"); got != "/art/dl-20261205-140004-5a18-web01.console.log" {
		t.Errorf("console %q", got)
	}
	if got := a.Bridge("drivelab"); len(got) > 15 {
		t.Errorf("bridge %q is longer than an interface name may be", got)
	}
}
