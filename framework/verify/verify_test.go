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
