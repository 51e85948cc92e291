package verify_test

import (
	"cmp"
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/drivelab/drivelab/framework/topology"
	"github.com/drivelab/drivelab/framework/verify"
)

func TestVerdictNamesNodeAndCheck(t *testing.T) {
	topo, err := topology.Load("../../fixtures/topology.yaml")
	if err != nil {
		t.Fatal(err)
	}
	env := &verify.Env{Topology: topo}
	checks := []verify.Check{
		{Name: "hostname", Run: func(_ context.Context, _ *verify.Env, n topology.Node) error {
			if n.Name == "web02" {
				return errors.New(`expected "web02.cloud.org", actual "web2.cloud.org"`)
			}
			return nil
		}},
		{Name: "leastconn", Roles: []string{"loadbalancer"}, Run: func(context.Context, *verify.Env, topology.Node) error { return nil }},
	}
	v := verify.NewVerdict(topo.NodeNames())
	var all []verify.Result
	for name, ch := range verify.Start(context.Background(), env, checks) {
		results := <-ch
		v.Add(name, results)
		all = append(all, results...)
	}
	if !v.Failed() {
		t.Fatal("verdict did not record the failure")
	}
	err = verify.Err(all)
	if err == nil || !strings.Contains(err.Error(), `hostname on web02: expected "web02.cloud.org"`) {
		t.Fatalf("Err = %v", err)
	}
	table := v.Table()
	for _, row := range []string{"web02", "haproxy"} {
		line := lineStarting(table, row)
		switch row {
		case "web02":
			if !strings.Contains(line, "FAIL") {
				t.Fatalf("web02 row %q lacks FAIL:\n%s", line, table)
			}
		case "haproxy":
			if strings.Contains(line, "FAIL") || strings.Count(line, "pass") != 2 {
				t.Fatalf("haproxy row %q:\n%s", line, table)
			}
		}
	}
	if l := lineStarting(table, "web01"); strings.Count(l, "pass") != 1 || !strings.Contains(l, "-") {
		t.Fatalf("web01 row must pass hostname and show - for leastconn: %q", l)
	}
	if got, want := strings.Join(v.Nodes(), ","), strings.Join(topo.NodeNames(), ","); got != want {
		t.Errorf("Nodes() = %s, want the topology's %s", got, want)
	}
}

func lineStarting(table, prefix string) string {
	for _, l := range strings.Split(table, "\n") {
		if strings.HasPrefix(l, prefix+" ") {
			return l
		}
	}
	return ""
}

// Start keeps to env.AtOnce checks at a time and still runs every check.
func TestStartBoundsChecksAtOnce(t *testing.T) {
	topo, err := topology.Load("../../fixtures/topology.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, atOnce := range []int{0, 1, 2} {
		var mu sync.Mutex
		running, most := map[string]bool{}, 0
		check := func(name string) verify.Check {
			return verify.Check{Name: name, Roles: []string{"loadbalancer"}, Run: func(context.Context, *verify.Env, topology.Node) error {
				mu.Lock()
				running[name] = true
				most = max(most, len(running))
				mu.Unlock()
				time.Sleep(50 * time.Millisecond)
				mu.Lock()
				delete(running, name)
				mu.Unlock()
				return nil
			}}
		}
		checks := []verify.Check{check("a"), check("b"), check("c"), check("d"), check("e")}
		pending := verify.Start(context.Background(), &verify.Env{Topology: topo, AtOnce: atOnce}, checks)
		for _, c := range checks {
			if r := <-pending[c.Name]; len(r) != 1 || r[0].Check != c.Name {
				t.Fatalf("AtOnce %d: %s yielded %+v", atOnce, c.Name, r)
			}
		}
		want := cmp.Or(atOnce, len(checks))
		if most != want {
			t.Fatalf("AtOnce %d: %d checks ran at once, want %d", atOnce, most, want)
		}
	}
}

// StartOn runs each check on the nodes named for it only: a rerun touches
// no node that passed.
func TestStartOnRunsOnlyTheNamedNodes(t *testing.T) {
	topo, err := topology.Load("../../fixtures/topology.yaml")
	if err != nil {
		t.Fatal(err)
	}
	check := func(name string) verify.Check {
		return verify.Check{Name: name, Run: func(context.Context, *verify.Env, topology.Node) error { return nil }}
	}
	checks := []verify.Check{check("a"), check("b"), check("c")}
	pending := verify.StartOn(context.Background(), &verify.Env{Topology: topo}, checks, map[string][]string{"a": {"web02"}, "b": {"haproxy", "web01"}})
	for name, want := range map[string]string{"a": "web02", "b": "haproxy web01", "c": ""} {
		var nodes []string
		for _, r := range <-pending[name] {
			nodes = append(nodes, r.Node)
		}
		if got := strings.Join(nodes, " "); got != want {
			t.Errorf("check %s ran on %q, want %q", name, got, want)
		}
	}
}

// A quarantined failure, a flaky pass and an expired quarantine each get
// their cell and note; only the expired one fails the verdict.
func TestVerdictTellsFlakyAndQuarantined(t *testing.T) {
	fail := errors.New("502")
	q := &verify.Quarantine{Reason: "known", Until: "2031-05-17", Where: "q.yaml:3"}
	expired := *q
	expired.Expired = true
	v := verify.NewVerdict([]string{"web01", "web02"})
	v.Add("flaky", []verify.Result{{Check: "flaky", Node: "web01"}, {Check: "flaky", Node: "web02", Attempts: []verify.Attempt{{Err: fail}, {}}}})
	v.Add("quar", []verify.Result{{Check: "quar", Node: "web01", Quarantine: q}, {Check: "quar", Node: "web02", Err: fail, Quarantine: q}})
	if v.Failed() {
		t.Fatalf("a flaky pass or a quarantined failure failed the verdict:\n%s", v.Table())
	}
	table, notes := v.Table(), v.Notes()
	if l := lineStarting(table, "web02"); !strings.Contains(l, "FLAKY") || !strings.Contains(l, "QUAR") {
		t.Errorf("web02's row %q: want FLAKY and QUAR", l)
	}
	for _, want := range []string{"FLAKY flaky on web02: failed, then passed on attempt 2; first failure: 502",
		"QUAR  quar on web02: quarantined until 2031-05-17 (known; q.yaml:3), failed: 502",
		"note  quar on web01: quarantined until 2031-05-17 (known) but passed"} {
		if !strings.Contains(notes, want) {
			t.Errorf("notes lack %q:\n%s", want, notes)
		}
	}
	if err := verify.Failures(v.Results()); err != nil {
		t.Errorf("Failures = %v, want none", err)
	}
	v.Add("quar", []verify.Result{{Check: "quar", Node: "web02", Err: fail, Quarantine: &expired}})
	if !v.Failed() || !strings.Contains(v.Notes(), "FAIL  quar on web02: quarantine expired on 2031-05-17") {
		t.Errorf("an expired quarantine: failed %v, notes:\n%s", v.Failed(), v.Notes())
	}
	if err := verify.Failures(v.Results()); err == nil || !strings.Contains(err.Error(), "quar on web02: quarantine expired on 2031-05-17 (known; q.yaml:3)") {
		t.Errorf("Failures = %v, want the expiry named", err)
	}
}
