package quarantine_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/drivelab/drivelab/framework/quarantine"
	"github.com/drivelab/drivelab/framework/verify"
)

const good = `# known failures
quarantine:
  - scenario: loadbalancer
    check: leastconn
    reason: haproxy's stats lag
    expires: 2031-05-17
  - scenario: loadbalancer
    check: hostname
    node: web02
    reason: web02 renamed
    expires: "2031-06-01"
`

func write(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "quarantine.yaml")
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLoadReadsEveryField(t *testing.T) {
	path := write(t, good)
	l, err := quarantine.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	want := []quarantine.Entry{
		{Scenario: "loadbalancer", Check: "leastconn", Reason: "haproxy's stats lag", Expires: "2031-05-17", Where: path + ":3"},
		{Scenario: "loadbalancer", Check: "hostname", Node: "web02", Reason: "web02 renamed", Expires: "2031-06-01", Where: path + ":7"},
	}
	if len(l.Entries) != len(want) {
		t.Fatalf("entries %+v, want %+v", l.Entries, want)
	}
	for i := range want {
		if l.Entries[i] != want[i] {
			t.Errorf("entry %d: %+v, want %+v", i, l.Entries[i], want[i])
		}
	}
	if l, err := quarantine.Load(write(t, "quarantine: []\n")); err != nil || len(l.Entries) != 0 {
		t.Errorf("an empty list: %+v, %v", l, err)
	}
}

func TestLoadRefusesWhatItCannotTrust(t *testing.T) {
	for _, c := range []struct{ name, from, to, want string }{
		{"no reason", "    reason: haproxy's stats lag\n", "", ":3: entry 1 has no reason; give it one"},
		{"no expiry", "    expires: 2031-05-17\n", "", ":3: entry 1 has no expires"},
		{"not a date", "2031-05-17", "2031-13-01", `:6: expires "2031-13-01" is not a date; write it as YYYY-MM-DD`},
		{"a date in words", "2031-05-17", "next week", `:6: expires "next week" is not a date`},
		{"unknown field", "    node: web02\n", "    nodes: web02\n", `:9: field nodes not found`},
		{"twice", "check: hostname\n    node: web02", "check: leastconn", ":7: check leastconn of scenario loadbalancer is quarantined already at "},
		{"no list", "quarantine:", "quarantined:", "field quarantined not found"},
	} {
		t.Run(c.name, func(t *testing.T) {
			src := strings.Replace(good, c.from, c.to, 1)
			if src == good {
				t.Fatalf("the case changes nothing: %q not found", c.from)
			}
			path := write(t, src)
			_, err := quarantine.Load(path)
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), path) {
				t.Errorf("Load = %v, want an error naming %s and saying %q", err, path, c.want)
			}
		})
	}
	if _, err := quarantine.Load(write(t, "# nothing yet\nother: 1\n")); err == nil {
		t.Error("a file without quarantine: was taken")
	}
	if _, err := quarantine.Load(write(t, "# nothing yet\n{}\n")); err == nil || !strings.Contains(err.Error(), "write `quarantine: []` for none") {
		t.Errorf("a file without the list: %v", err)
	}
	if _, err := quarantine.Load(filepath.Join(t.TempDir(), "missing.yaml")); err == nil || !strings.Contains(err.Error(), "E2E_QUARANTINE") {
		t.Errorf("a missing file: %v", err)
	}
}

func TestCheckRefusesNamesTheRegistryDoesNotHave(t *testing.T) {
	path := write(t, good)
	l, err := quarantine.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	known := map[string]quarantine.Names{
		"loadbalancer": {"hostname": {"test2", "haproxy", "web01", "web02"}, "leastconn": {"haproxy"}},
		"failover":     {"failover": nil},
	}
	if err := l.Check(known); err != nil {
		t.Errorf("names the registry has: %v", err)
	}
	for _, c := range []struct {
		known map[string]quarantine.Names
		want  string
	}{
		{map[string]quarantine.Names{"failover": known["failover"]}, path + `:3: scenario "loadbalancer" is not registered; the scenarios are failover`},
		{map[string]quarantine.Names{"loadbalancer": {"hostname": nil, "services": nil}}, path + `:3: scenario loadbalancer has no check "leastconn"; its checks are hostname, services`},
		{map[string]quarantine.Names{"loadbalancer": {"hostname": {"web01"}, "leastconn": nil}}, path + `:7: check hostname of scenario loadbalancer does not run on node "web02", only on web01`},
	} {
		if err := l.Check(c.known); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Check = %v, want %q", err, c.want)
		}
	}
}

// An entry holds through its last day, UTC, and no longer.
func TestExpiredAfterTheLastDay(t *testing.T) {
	e := quarantine.Entry{Expires: "2031-05-17"}
	for at, want := range map[string]bool{
		"2031-05-16T12:00:00Z":      false,
		"2031-05-17T23:59:59Z":      false,
		"2031-05-18T00:00:00Z":      true,
		"2031-05-18T01:00:00+02:00": false, // 23:00 UTC on the 17th
		"2032-01-01T00:00:00Z":      true,
	} {
		now, err := time.Parse(time.RFC3339, at)
		if err != nil {
			t.Fatal(err)
		}
		if got := e.Expired(now); got != want {
			t.Errorf("Expired(%s) = %v, want %v", at, got, want)
		}
	}
}

// Apply marks the results an entry names, a node's own entry first, and
// leaves the others alone; a quarantined failure no longer fails.
func TestApplyMarksTheNamedResults(t *testing.T) {
	l, err := quarantine.Load(write(t, good+"  - scenario: loadbalancer\n    check: hostname\n    reason: every node\n    expires: 2031-05-17\n  - scenario: other\n    check: leastconn\n    reason: not this scenario\n    expires: 2031-05-17\n"))
	if err != nil {
		t.Fatal(err)
	}
	fail := errors.New("wrong")
	results := []verify.Result{
		{Check: "hostname", Node: "web01", Err: fail},
		{Check: "hostname", Node: "web02", Err: fail},
		{Check: "leastconn", Node: "haproxy", Err: fail},
		{Check: "services", Node: "web01", Err: fail},
	}
	now := time.Date(2031, 5, 20, 0, 0, 0, 0, time.UTC)
	got := quarantine.Apply(l.For("loadbalancer"), results, now)
	if q := got[0].Quarantine; q == nil || q.Reason != "every node" || !q.Expired {
		t.Errorf("hostname on web01: %+v, want the every-node entry, expired", q)
	}
	if q := got[1].Quarantine; q == nil || q.Reason != "web02 renamed" || q.Expired || !got[1].Quarantined() || got[1].Failing() {
		t.Errorf("hostname on web02: %+v, want its own entry, in force, not failing", q)
	}
	if q := got[2].Quarantine; q == nil || q.Reason != "haproxy's stats lag" || !got[2].Failing() {
		t.Errorf("leastconn on haproxy: %+v, want the expired entry, failing", q)
	}
	if got[3].Quarantine != nil || results[1].Quarantine != nil {
		t.Errorf("services was marked (%+v), or the input changed", got[3].Quarantine)
	}
	if l.For("nosuch") != nil || (*quarantine.List)(nil).For("loadbalancer") != nil {
		t.Error("For found entries of an unknown scenario or a nil list")
	}
}
