package main

import (
	"context"
	"strings"
	"testing"

	"github.com/drivelab/drivelab/framework/harness"
	"github.com/drivelab/drivelab/framework/lint"
	"github.com/drivelab/drivelab/framework/selftest"
	"github.com/drivelab/drivelab/framework/topology"
	"github.com/drivelab/drivelab/framework/verify"
	"github.com/drivelab/drivelab/scenarios"
)

// The repository's variants, without booting: each names a real check of a
// real scenario, lint catches the lint variants on their node with their
// words, and lets every booted variant through (else it could never boot).
func TestSelftestVariantsWithoutBoot(t *testing.T) {
	topo, err := topology.Load("../../fixtures/topology.yaml")
	if err != nil {
		t.Fatal(err)
	}
	checks, rules := map[string][]verify.Check{}, map[string][]lint.Rule{}
	for _, sc := range scenarios.All() {
		checks[sc.Name], rules[sc.Name] = sc.Checks, sc.Lint
	}
	variants, err := selftest.Load("../../fixtures/selftest", topo, checks, scenarios.LoadBalancer.Name)
	if err != nil {
		t.Fatal(err)
	}
	outcomes, err := selftest.Lint(context.Background(), selftest.Input{
		Variants: variants,
		Up:       harness.UpInput{Topology: topo, TemplatesDir: "../../fixtures/templates", Flavor: "debian12"},
		Checks:   checks,
		Rules:    rules,
	})
	if err != nil {
		t.Fatal(err)
	}
	booted := 0
	for _, o := range outcomes {
		details := strings.Join(o.Details, "\n")
		switch {
		case o.Variant.Booted():
			booted++
			if len(o.By) > 0 {
				t.Errorf("%s is meant to boot, but lint refuses it:\n%s", o.Variant.Name, details)
			}
		case !o.Caught:
			t.Errorf("%s: lint did not report %q on %s:\n%s", o.Variant.Name, o.Variant.Message, o.Variant.Node, details)
		}
	}
	if booted == 0 || booted == len(outcomes) {
		t.Errorf("%d of %d variants boot; the self-test needs both kinds", booted, len(outcomes))
	}
}
