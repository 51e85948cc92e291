package selftest

import (
	"testing"

	"github.com/drivelab/drivelab/framework/harness"
	"github.com/drivelab/drivelab/framework/topology"
	"github.com/drivelab/drivelab/framework/verify"
)

// A booted variant's lab carries its overlay, its own artifacts folder and
// the diagnostics of the scenario it runs, not another scenario's.
func TestVariantUpTakesItsScenariosDiagnostics(t *testing.T) {
	diag := func(file string) []verify.Diagnostic {
		return []verify.Diagnostic{{File: file, Command: func(*verify.Env, topology.Node) string { return "true" }}}
	}
	in := Input{
		Up:          harness.UpInput{Overlay: "other"},
		Diagnostics: map[string][]verify.Diagnostic{"a": diag("a.txt"), "b": diag("b.txt")},
	}
	in.Up.Paths.Artifacts = "/art"
	up := variantUp(in, Variant{Name: "v", Dir: "/variants/v", Scenario: "b"})
	if len(up.Diagnostics) != 1 || up.Diagnostics[0].File != "b.txt" {
		t.Fatalf("variant of scenario b diagnoses %+v, want b.txt", up.Diagnostics)
	}
	if up.Overlay != "/variants/v" || up.Paths.Artifacts != "/art/v" || up.RunID == "" {
		t.Fatalf("overlay %q, artifacts %q, run %q", up.Overlay, up.Paths.Artifacts, up.RunID)
	}
	if in.Up.Overlay != "other" || in.Up.Diagnostics != nil {
		t.Fatal("variantUp changed the shared input")
	}
}
