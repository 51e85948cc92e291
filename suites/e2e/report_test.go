package e2e_test

import (
	"encoding/xml"
	"fmt"
	"os"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	"github.com/onsi/ginkgo/v2/reporters"

	"github.com/drivelab/drivelab/framework/profile"
	"github.com/drivelab/drivelab/framework/vm"
)

// nodeTiming is one node's boot in timings.json.
type nodeTiming struct {
	Name      string             `json:"name"`
	VCPUs     int                `json:"vcpus"`
	MemoryMiB int                `json:"memory_mib"`
	CPUS      float64            `json:"vcpu_time_s"`
	CloudInit float64            `json:"cloud_init_finished_s"`
	Ready     float64            `json:"ready_s"`
	Stages    map[string]float64 `json:"stage_started_s"`
	// Path is how the harness started the node, GatePath what the image's
	// gate saw (the boot fails when they differ).
	Path     string `json:"boot_path"`
	GatePath string `json:"gate_path"`
}

func nodeTimings(run *vm.Run) []nodeTiming {
	var out []nodeTiming
	for _, n := range run.Nodes {
		t := nodeTiming{Name: n.Name, VCPUs: n.VCPUs, MemoryMiB: n.MemoryMiB, CPUS: n.CPU.Seconds(),
			CloudInit: n.CloudInit.Seconds(), Ready: n.Ready.Seconds(), Stages: map[string]float64{}, Path: n.Path(), GatePath: n.GatePath}
		for _, s := range n.Stages {
			t.Stages[string(s.Stage)] = s.Seen.Sub(run.Started).Seconds()
		}
		out = append(out, t)
	}
	return out
}

// runProperties are what the JUnit report says of the machine.
func runProperties(scenario string, run *vm.Run) []reporters.JUnitProperty {
	p := []reporters.JUnitProperty{
		{Name: scenario + ".accel", Value: run.DomainType},
		{Name: scenario + ".boot_path", Value: run.BootPath()},
		{Name: scenario + ".host_cores", Value: fmt.Sprint(run.Scale.HostCores)},
		{Name: scenario + ".guest_vcpus", Value: fmt.Sprint(run.Scale.GuestVCPUs)},
		{Name: scenario + ".deadline_scale", Value: fmt.Sprintf("%.2f", run.Scale.Factor)},
	}
	for _, n := range run.Nodes {
		p = append(p, reporters.JUnitProperty{Name: scenario + "." + n.Name + ".vcpus", Value: fmt.Sprint(n.VCPUs)})
	}
	return p
}

// writeJUnit writes Ginkgo's JUnit report with extra properties on every suite.
func writeJUnit(r Report, path string, props []reporters.JUnitProperty) error {
	if err := reporters.GenerateJUnitReport(r, path); err != nil {
		return err
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var suites reporters.JUnitTestSuites
	if err := xml.Unmarshal(b, &suites); err != nil {
		return fmt.Errorf("reading back %s: %w", path, err)
	}
	for i := range suites.TestSuites {
		suites.TestSuites[i].Properties.Properties = append(suites.TestSuites[i].Properties.Properties, props...)
	}
	out, err := xml.MarshalIndent(suites, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append([]byte(xml.Header), out...), 0o644)
}

// costliest lists the five costliest stages of a profile, a line each.
func costliest(p *profile.Profile) string {
	var b strings.Builder
	for i, s := range p.Costliest(5) {
		fmt.Fprintf(&b, "  costliest stage %d: %-8s %-22s %6.1fs\n", i+1, s.Node, s.Name, s.DurationS)
	}
	return b.String()
}
