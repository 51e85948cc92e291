package scenarios

import (
	"context"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/drivelab/drivelab/framework/topology"
	"github.com/drivelab/drivelab/framework/verify"
	"github.com/drivelab/drivelab/scenarios/checks/checktest"
)

func pass(context.Context, *verify.Env, topology.Node) error { return nil }

// valid is a scenario the registry accepts; each case below breaks one rule.
func valid(name string) Scenario {
	return Scenario{
		Name: name, Topology: "fixtures/topology.yaml", Labels: []string{LabelFailover},
		Checks: []verify.Check{{Name: "a", Run: pass}, {Name: "b", Run: pass}},
	}
}

func TestRegistryRefuses(t *testing.T) {
	for _, tc := range []struct {
		name   string
		break_ func(*Scenario)
		want   string
	}{
		{"duplicate scenario", func(s *Scenario) { s.Name = "first" }, "scenario first: registered twice"},
		{"empty name", func(s *Scenario) { s.Name = "" }, `scenario name "": use lower-case letters`},
		{"name with a space", func(s *Scenario) { s.Name = "load balancer" }, `scenario name "load balancer"`},
		{"no topology", func(s *Scenario) { s.Topology = "" }, "no topology"},
		{"unknown label", func(s *Scenario) { s.Labels = []string{"fail-over"} }, `label "fail-over" is not in scenarios.Labels`},
		{"automatic label", func(s *Scenario) { s.Labels = []string{LabelDisruptive} }, `label "disruptive" is given by the suites`},
		{"named as another's label", func(s *Scenario) { s.Name = LabelVM }, `its name is the label "vm", which would select other scenarios too`},
		{"named as a label it lacks", func(s *Scenario) { s.Name, s.Labels = LabelCloudConfig, nil }, `its name is the label "cloudconfig"`},
		{"no checks", func(s *Scenario) { s.Checks = nil }, "no checks"},
		{"check without name", func(s *Scenario) { s.Checks[1].Name = "" }, "check 2 has no name"},
		{"check without Run", func(s *Scenario) { s.Checks[1].Run = nil }, "check b has no Run function"},
		{"duplicate check", func(s *Scenario) { s.Checks[1].Name = "a" }, "two checks are named a"},
		{"disruptive check next to others", func(s *Scenario) { s.Checks[0].Disruptive = true }, "check a is disruptive"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var r Registry
			if err := r.Add(valid("first")); err != nil {
				t.Fatal(err)
			}
			s := valid("second")
			tc.break_(&s)
			checktest.WantErr(t, r.Add(s), tc.want)
			if len(r.All()) != 1 {
				t.Fatalf("the refused scenario was registered: %d scenarios", len(r.All()))
			}
		})
	}
}

func TestRegistryAccepts(t *testing.T) {
	var r Registry
	alone := valid("alone")
	alone.Checks = []verify.Check{{Name: "stop", Run: pass, Disruptive: true}}
	for _, s := range []Scenario{valid("first"), alone} {
		if err := r.Add(s); err != nil {
			t.Fatal(err)
		}
	}
	if got, _ := r.Get("alone"); !got.Disruptive() || !slices.Contains(got.SuiteLabels(), LabelDisruptive) {
		t.Fatalf("a scenario with a disruptive check is not labelled %s: %v", LabelDisruptive, got.SuiteLabels())
	}
	if got, _ := r.Get("first"); got.Disruptive() || slices.Contains(got.SuiteLabels(), LabelDisruptive) {
		t.Fatalf("first has no disruptive check but labels %v", got.SuiteLabels())
	}
	// Its name is a label: e2e diff's label filter picks scenarios by name.
	if got := LoadBalancer.SuiteLabels(); !slices.Equal(got, []string{LabelVM, LabelSlow, "loadbalancer"}) {
		t.Errorf("loadbalancer's labels are %v, want vm, slow and its name", got)
	}
	if got := Failover.SuiteLabels(); !slices.Equal(got, []string{LabelVM, LabelSlow, LabelDisruptive, LabelFailover}) {
		t.Errorf("failover's labels are %v, want its name once", got)
	}
}

// A refusal at init names the file and line of the register call.
func TestMustAddPanicsNamingTheCaller(t *testing.T) {
	var r Registry
	mustAdd(&r, valid("first"), 1)
	defer func() {
		msg, _ := recover().(string)
		if !regexp.MustCompile(`^scenarios/registry_test\.go:\d+: scenario first: registered twice`).MatchString(msg) {
			t.Fatalf("panic = %q", msg)
		}
	}()
	mustAdd(&r, valid("first"), 1)
}

// The package's own scenarios: failover is the disruptive one, the others
// are not; a scenario with Flavors supports those only, as cloudconfig does.
func TestRegisteredScenarios(t *testing.T) {
	var names []string
	for _, s := range All() {
		names = append(names, s.Name)
		if got := s.Disruptive(); got != (s.Name == "failover") {
			t.Errorf("%s: Disruptive() = %v", s.Name, got)
		}
	}
	if strings.Join(names, ",") != "cloudconfig,failover,loadbalancer,twotier" {
		t.Errorf("scenarios = %v", names)
	}
	limited := Scenario{Name: "limited", Flavors: []string{"debian12"}}
	checktest.WantErr(t, limited.Supports("debian12"), "")
	checktest.WantErr(t, limited.Supports("centos7"), "has templates for flavor debian12 only, not centos7")
	checktest.WantErr(t, LoadBalancer.Supports("centos7"), "")
	checktest.WantErr(t, CloudConfig.Supports("debian12"), "")
	checktest.WantErr(t, CloudConfig.Supports("debian12-nova"), "")
	checktest.WantErr(t, CloudConfig.Supports("centos7"), "has templates for flavor debian12, debian12-nova only, not centos7")
}

func TestCheckLabelFilter(t *testing.T) {
	for _, ok := range []string{"", "vm && !disruptive", "vm && !disruptive && !cloudconfig", "failover", "(VM || drive), slow", "/^fail/ && !slow", "loadbalancer || failover"} {
		checktest.WantErr(t, CheckLabelFilter(ok), "")
	}
	checktest.WantErr(t, CheckLabelFilter("vm && !fail-over"), `names fail-over, not among the labels`)
	checktest.WantErr(t, CheckLabelFilter("failovr"), "names failovr")
	checktest.WantErr(t, CheckLabelFilter("loadbalancr"), "nor the scenarios (cloudconfig, failover, loadbalancer")
}

// Every label the Makefile filters on is in the closed set, and README.md
// lists exactly the set.
func TestLabelsUsedAreKnown(t *testing.T) {
	mk, err := os.ReadFile("../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	var filters []string
	if m := regexp.MustCompile(`(?m)^E2E_LABELS \?= (.+)$`).FindStringSubmatch(string(mk)); m != nil {
		filters = append(filters, m[1])
	}
	for _, m := range regexp.MustCompile(`(?:E2E_LABELS=|label-filter=)([a-z0-9-]+)`).FindAllStringSubmatch(string(mk), -1) {
		filters = append(filters, m[1])
	}
	if len(filters) < 4 {
		t.Fatalf("found %d label filters in the Makefile (%q); the patterns no longer match it", len(filters), filters)
	}
	for _, f := range filters {
		if err := CheckLabelFilter(f); err != nil {
			t.Errorf("Makefile: %v", err)
		}
	}
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?m)^Labels \\(the closed set, `scenarios.Labels`\\): (.+)$").FindSubmatch(readme)
	if m == nil {
		t.Fatal("README.md lacks the line \"Labels (the closed set, `scenarios.Labels`): ...\"")
	}
	var listed []string
	for _, l := range strings.Split(string(m[1]), ",") {
		listed = append(listed, strings.Trim(strings.TrimSpace(l), "`."))
	}
	if !slices.Equal(listed, Labels) {
		t.Errorf("README.md lists labels %v; scenarios.Labels is %v", listed, Labels)
	}
}

// The repository's quarantine list loads and names only what the registry
// has; an entry for a check the scenario lacks is refused, naming the line.
func TestLoadQuarantineHoldsNamesToTheRegistry(t *testing.T) {
	if _, err := LoadQuarantine("..", "fixtures/quarantine.yaml"); err != nil {
		t.Fatalf("fixtures/quarantine.yaml: %v", err)
	}
	dir := t.TempDir()
	path := dir + "/q.yaml"
	for body, want := range map[string]string{
		"quarantine:\n  - {scenario: loadbalancer, check: leastconn, node: web02, reason: x, expires: 2031-01-01}\n":   `q.yaml:2: check leastconn of scenario loadbalancer does not run on node "web02", only on haproxy`,
		"quarantine:\n  - {scenario: failover, check: leastconn, reason: x, expires: 2031-01-01}\n":                    `q.yaml:2: scenario failover has no check "leastconn"; its checks are failover`,
		"quarantine:\n  - {scenario: loadbalancer, check: leastconn, node: haproxy, reason: x, expires: 2031-01-01}\n": "",
	} {
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := LoadQuarantine("..", path)
		checktest.WantErr(t, err, want)
	}
}
