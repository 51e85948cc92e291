package selftest_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/drivelab/drivelab/framework/lint"
	"github.com/drivelab/drivelab/framework/selftest"
	"github.com/drivelab/drivelab/framework/topology"
	"github.com/drivelab/drivelab/framework/verify"
)

func reference(t *testing.T) *topology.Topology {
	t.Helper()
	topo, err := topology.Load("../../fixtures/topology.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return topo
}

// checks stands in for the scenarios (framework code does not import them).
var checks = map[string][]verify.Check{
	"loadbalancer": {{Name: "hostname"}, {Name: "services"}, {Name: "leastconn"}},
	"failover":     {{Name: "failover"}},
}

func writeVariant(t *testing.T, root, name, yaml string, templates ...string) {
	t.Helper()
	dir := filepath.Join(root, name)
	for _, f := range append([]string{selftest.VariantFile}, templates...) {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, f)), 0o755); err != nil {
			t.Fatal(err)
		}
		content := "x\n"
		if f == selftest.VariantFile {
			content = yaml
		}
		if err := os.WriteFile(filepath.Join(dir, f), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestLoad(t *testing.T) {
	root := t.TempDir()
	writeVariant(t, root, "typo", "fault: f\ncaught_by: hostname\nnode: web01\nmessage: web0l\n", "nodes/web01/meta_data.json.tmpl")
	writeVariant(t, root, "nocheck", "fault: f\ncaught_by: failover\nnode: haproxy\nmessage: no check\nscenario: failover\n", "haproxy.cfg.tmpl")
	vs, err := selftest.Load(root, reference(t), checks, "loadbalancer")
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) != 2 || vs[0].Name != "nocheck" || vs[1].Scenario != "loadbalancer" || !vs[1].Booted() {
		t.Fatalf("variants = %+v", vs)
	}
}

// Bad variant files are refused before anything runs, naming file, field and fix.
func TestLoadRefuses(t *testing.T) {
	for name, c := range map[string]struct {
		yaml      string
		templates []string
		want      string
	}{
		"unknown field":     {"fault: f\ncaught_by: lint\nnode: web01\nmessage: m\ncheck: x\n", []string{"hosts.tmpl"}, "field check not found"},
		"empty message":     {"fault: f\ncaught_by: lint\nnode: web01\n", []string{"hosts.tmpl"}, "message is empty; say words the failure must contain"},
		"unknown node":      {"fault: f\ncaught_by: lint\nnode: web09\nmessage: m\n", []string{"hosts.tmpl"}, `node "web09" is not a node of`},
		"unknown check":     {"fault: f\ncaught_by: hostnames\nnode: web01\nmessage: m\n", []string{"hosts.tmpl"}, `caught_by "hostnames" is neither "lint", "boot", "nothing" nor a check of scenario loadbalancer (hostname, services, leastconn)`},
		"check elsewhere":   {"fault: f\ncaught_by: failover\nnode: haproxy\nmessage: m\n", []string{"hosts.tmpl"}, "nor a check of scenario loadbalancer"},
		"unknown scenario":  {"fault: f\ncaught_by: lint\nnode: web01\nmessage: m\nscenario: nope\n", []string{"hosts.tmpl"}, `scenario "nope" does not exist (have failover, loadbalancer)`},
		"no template":       {"fault: f\ncaught_by: lint\nnode: web01\nmessage: m\n", nil, "the variant has no template"},
		"not a variant dir": {"", nil, "needs one"},
	} {
		t.Run(name, func(t *testing.T) {
			root := t.TempDir()
			if c.yaml == "" {
				if err := os.MkdirAll(filepath.Join(root, "v", "nodes"), 0o755); err != nil {
					t.Fatal(err)
				}
			} else {
				writeVariant(t, root, "v", c.yaml, c.templates...)
			}
			_, err := selftest.Load(root, reference(t), checks, "loadbalancer")
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error = %v, want it to say %q", err, c.want)
			}
		})
	}
	if _, err := selftest.Load(t.TempDir(), reference(t), checks, "loadbalancer"); err == nil || !strings.Contains(err.Error(), "holds no variant") {
		t.Fatalf("empty directory: %v", err)
	}
}

func TestJudgeLint(t *testing.T) {
	v := selftest.Variant{Name: "rr", CaughtBy: selftest.ByLint, Node: "haproxy", Message: "balances with roundrobin"}
	caught := lint.Report{Problems: []lint.Problem{
		{Node: "web01", Message: "something else"},
		{Node: "haproxy", File: "haproxy.cfg.tmpl", Line: 28, Message: "backend web balances with roundrobin; the topology balances with leastconn"},
	}}
	o := selftest.JudgeLint(v, caught)
	if !o.Caught || o.By[0] != "lint@haproxy" || strings.Join(o.Also(), ",") != "lint@web01" || !strings.Contains(o.Details[0], "haproxy.cfg.tmpl:28") {
		t.Fatalf("outcome = %+v", o)
	}
	// The right words on the wrong node, in a warning, or nothing at all, is not caught.
	for _, r := range []lint.Report{
		{Problems: []lint.Problem{{Node: "web02", Message: "backend web balances with roundrobin"}}},
		{Problems: []lint.Problem{{Node: "haproxy", Message: "backend web balances with roundrobin", Severity: lint.SeverityWarning}}},
		{},
	} {
		if o := selftest.JudgeLint(v, r); o.Caught {
			t.Errorf("caught by %+v", r)
		}
	}
	// A variant meant to boot that lint refuses is missed, with the fix named.
	booted := selftest.Variant{Name: "typo", Dir: "fixtures/selftest/typo", CaughtBy: "hostname", Node: "web01", Message: "web0l"}
	o = selftest.JudgeLint(booted, lint.Report{Problems: []lint.Problem{{Node: "web01", Message: "hostname web0l"}}})
	if o.Caught || len(o.Also()) != 1 || !strings.Contains(strings.Join(o.Details, "\n"), "set caught_by: lint in fixtures/selftest/typo/variant.yaml") {
		t.Fatalf("outcome = %+v", o)
	}
}

func TestJudgeChecks(t *testing.T) {
	v := selftest.Variant{Name: "page", CaughtBy: "services", Node: "web02", Message: "expected it to name web02.cloud.org only"}
	results := []verify.Result{
		{Check: "hostname", Node: "web02"},
		{Check: "services", Node: "web01"},
		{Check: "services", Node: "web02", Err: errors.New(`page served by web02: expected it to name web02.cloud.org only, actual "Greetings from web01.cloud.org !"`)},
		{Check: "leastconn", Node: "haproxy", Err: errors.New("20 requests split map[web01:20]")},
	}
	o := selftest.JudgeChecks(v, results)
	if !o.Caught || strings.Join(o.By, ",") != "services@web02,leastconn@haproxy" || strings.Join(o.Also(), ",") != "leastconn@haproxy" {
		t.Fatalf("outcome = %+v", o)
	}
	// The right check failing on another node, or for another reason, is not the variant's.
	for _, r := range [][]verify.Result{
		{{Check: "services", Node: "web01", Err: errors.New("expected it to name web02.cloud.org only")}},
		{{Check: "services", Node: "web02", Err: errors.New("GET http://192.168.100.28/: connection refused")}},
		{{Check: "hostname", Node: "web02", Err: errors.New("expected it to name web02.cloud.org only")}},
		results[:2],
	} {
		if o := selftest.JudgeChecks(v, r); o.Caught {
			t.Errorf("caught by %+v", r)
		}
	}
}

// A valid variant passes only when every check ran and passed.
func TestJudgeNothing(t *testing.T) {
	v := selftest.Variant{Name: "drive-at-sr0", CaughtBy: selftest.ByNothing}
	green := []verify.Result{{Check: "hostname", Node: "web01"}, {Check: "services", Node: "web01"}}
	if o := selftest.JudgeChecks(v, green); !o.Caught {
		t.Errorf("all green: %+v, want it passed", o)
	}
	if o := selftest.JudgeChecks(v, append(green, verify.Result{Check: "services", Node: "web02", Err: errors.New("x")})); o.Caught {
		t.Errorf("a failed check: %+v, want it failed", o)
	}
	if o := selftest.JudgeChecks(v, nil); o.Caught {
		t.Errorf("no check ran: %+v, want it failed", o)
	}
}

// A boot variant is caught by a failed boot on its node with its message.
func TestJudgeBoot(t *testing.T) {
	v := selftest.Variant{Name: "drive-at-vdb", CaughtBy: selftest.ByBoot, Node: "web01", Message: "special device /dev/vdb does not exist"}
	err := errors.New("node web01 (domain dl-r-web01): guest fault (user_data failed) on the console\n    | mount: /mnt: special device /dev/vdb does not exist.")
	if o := selftest.JudgeBoot(v, err); !o.Caught || o.By[0] != "boot@web01" {
		t.Errorf("%+v, want it caught by boot@web01", o)
	}
	for _, e := range []error{
		errors.New("node web02 (domain dl-r-web02): special device /dev/vdb does not exist"),
		errors.New("node web01 (domain dl-r-web01): cloud-init did not finish"),
	} {
		if o := selftest.JudgeBoot(v, e); o.Caught {
			t.Errorf("%v: caught, want missed", e)
		}
	}
}

func TestTable(t *testing.T) {
	caught := selftest.JudgeChecks(selftest.Variant{Name: "page", CaughtBy: "services", Node: "web02", Message: "m"},
		[]verify.Result{{Check: "services", Node: "web02", Err: errors.New("m")}, {Check: "leastconn", Node: "haproxy", Err: errors.New("x")}})
	missed := selftest.JudgeChecks(selftest.Variant{Name: "typo", CaughtBy: "hostname", Node: "web01", Message: "web0l"}, nil)
	table := selftest.Table([]selftest.Outcome{caught, missed})
	for _, want := range []string{
		"variant  stage  caught by       also failed        time  verdict\n",
		"page     boot   services@web02  leastconn@haproxy  0s    ok\n",
		"typo     boot   -               -                  0s    MISSED: want hostname@web01\n",
	} {
		if !strings.Contains(table, want) {
			t.Errorf("table lacks %q:\n%s", want, table)
		}
	}
	if got := selftest.Missed([]selftest.Outcome{caught, missed}); strings.Join(got, ",") != "typo" {
		t.Errorf("missed = %v", got)
	}
}
