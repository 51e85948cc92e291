package scenarios

import (
	"context"
	"path/filepath"
	"slices"
	"testing"

	"github.com/drivelab/drivelab/framework/harness"
	"github.com/drivelab/drivelab/framework/render"
	"github.com/drivelab/drivelab/framework/testenv"
	"github.com/drivelab/drivelab/framework/topology"
)

// Both load-balancer scenarios carry their diagnostics, each to its own file.
func TestLoadBalancerScenariosDiagnose(t *testing.T) {
	for _, sc := range []Scenario{LoadBalancer, Failover} {
		var files []string
		for _, d := range sc.Diagnostics {
			files = append(files, d.File)
		}
		if !slices.Equal(files, []string{"services.txt", "haproxy-stats.txt"}) {
			t.Errorf("scenario %s diagnoses %q, want services.txt and haproxy-stats.txt", sc.Name, files)
		}
	}
}

// Every scenario's topology lints clean with every flavor it supports, and
// fails with the flavors it says it does not: Flavors is exact.
func TestScenariosLint(t *testing.T) {
	testenv.Tool(t, "cloud-init")
	flavors, err := filepath.Glob("../fixtures/templates/*/" + render.FlavorFile)
	if err != nil || len(flavors) == 0 {
		t.Fatalf("no flavors: %v", err)
	}
	linted := map[string]bool{}
	for _, sc := range All() {
		for _, f := range flavors {
			flavor := filepath.Base(filepath.Dir(f))
			key := sc.Topology + " " + sc.Overlay + " " + flavor
			if linted[key] {
				continue
			}
			linted[key] = true
			topo, err := topology.Load("../" + sc.Topology)
			if err != nil {
				t.Fatal(err)
			}
			// Booting needs the node the checks run from; lint does not.
			if _, err := topo.ClientNode(); err != nil {
				t.Errorf("scenario %s: %v", sc.Name, err)
			}
			in := harness.UpInput{Topology: topo, TemplatesDir: "../fixtures/templates", Flavor: flavor, LintRules: sc.Lint}
			if sc.Overlay != "" {
				in.Overlay = "../" + sc.Overlay
			}
			err = harness.Lint(context.Background(), in).Err()
			switch supported := sc.Supports(flavor) == nil; {
			case supported && err != nil:
				t.Errorf("scenario %s, flavor %s: %v", sc.Name, flavor, err)
			case !supported && err == nil:
				t.Errorf("scenario %s lints clean with flavor %s: add it to its Flavors", sc.Name, flavor)
			}
		}
	}
}
