// Package selftest proves that the harness catches broken templates. Each
// variant (fixtures/selftest/<variant>/) is a template overlay
// (render.Input.Overlay: <name> for every node, nodes/<node>/<name> for one)
// that breaks one thing, and a variant.yaml naming the check that must catch
// it, on which node, with which words. Faults lint can see are judged by
// lint alone; the others boot the topology with the overlay and run a
// scenario's checks. A variant passes only when its own check catches it.
package selftest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/drivelab/drivelab/framework/config"
	"github.com/drivelab/drivelab/framework/harness"
	"github.com/drivelab/drivelab/framework/lint"
	"github.com/drivelab/drivelab/framework/runid"
	"github.com/drivelab/drivelab/framework/topology"
	"github.com/drivelab/drivelab/framework/verify"
	"github.com/drivelab/drivelab/framework/vm"
)

// VariantFile describes a variant inside its overlay directory.
const VariantFile = "variant.yaml"

// What a variant's caught_by may say besides a check's name.
const (
	// ByLint: lint must catch the fault before anything boots.
	ByLint = "lint"
	// ByBoot: the boot must fail on the variant's node, saying its message.
	ByBoot = "boot"
	// ByNothing: the variant is valid; lint, boot and every check must pass.
	ByNothing = "nothing"
)

// Variant is one deliberately broken overlay and what must catch it.
type Variant struct {
	// Name is the directory name; Dir the overlay itself.
	Name string `yaml:"-"`
	Dir  string `yaml:"-"`
	// Fault says what is broken, for people.
	Fault string `yaml:"fault"`
	// CaughtBy is ByLint or the name of a check of Scenario.
	CaughtBy string `yaml:"caught_by"`
	// Node is where the failure must be reported.
	Node string `yaml:"node"`
	// Message must appear in the failure: it is what names the fault.
	Message string `yaml:"message"`
	// Scenario's checks run after boot (default: the one Load is given).
	Scenario string `yaml:"scenario"`
	// GateSkip makes nodes' gates skip steps of the restored branch, by
	// node (vm.BootInput.GateSkip); such a variant's nodes are restored
	// from memory snapshots whatever E2E_BOOT says.
	GateSkip map[string]string `yaml:"gate_skip"`
}

// Booted reports whether the variant needs a booted topology.
func (v Variant) Booted() bool { return v.CaughtBy != ByLint }

// Load reads every variant under dir, in name order, and checks each against
// the topology and the scenarios' checks (by scenario name); a variant that
// names no scenario runs scenario's checks.
func Load(dir string, topo *topology.Topology, checks map[string][]verify.Check, scenario string) ([]Variant, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("self-test variants: %w", err)
	}
	var (
		variants []Variant
		errs     []error
	)
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		v, err := loadVariant(filepath.Join(dir, e.Name()), topo, checks, scenario)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		variants = append(variants, v)
	}
	if len(variants) == 0 && len(errs) == 0 {
		errs = append(errs, fmt.Errorf("%s holds no variant: add <variant>/%s next to its templates", dir, VariantFile))
	}
	return variants, errors.Join(errs...)
}

func loadVariant(dir string, topo *topology.Topology, checks map[string][]verify.Check, scenario string) (Variant, error) {
	file := filepath.Join(dir, VariantFile)
	v := Variant{Name: filepath.Base(dir), Dir: dir}
	data, err := os.ReadFile(file)
	if err != nil {
		return v, fmt.Errorf("%w: every directory of the self-test is a variant and needs one", err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&v); err != nil {
		return v, fmt.Errorf("%s: %w (fields: fault, caught_by, node, message, scenario, gate_skip)", file, err)
	}
	if v.Scenario == "" {
		v.Scenario = scenario
	}
	var errs []error
	fail := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", file, fmt.Sprintf(format, args...)))
	}
	for _, f := range []struct{ name, value, say string }{
		{"fault", v.Fault, "what the overlay breaks"},
		{"caught_by", v.CaughtBy, `"lint", "boot", the check that must fail, or "nothing" for a valid variant`},
		{"node", v.Node, "the node the failure must name"},
		{"message", v.Message, "words the failure must contain"},
	} {
		if strings.TrimSpace(f.value) == "" && (v.CaughtBy != ByNothing || f.name == "fault") {
			fail("%s is empty; say %s", f.name, f.say)
		}
	}
	if _, ok := topo.Node(v.Node); v.Node != "" && !ok {
		fail("node %q is not a node of %s (have %s)", v.Node, topo.Path, strings.Join(topo.NodeNames(), ", "))
	}
	scenarioChecks, ok := checks[v.Scenario]
	switch {
	case !ok:
		fail("scenario %q does not exist (have %s)", v.Scenario, strings.Join(slices.Sorted(maps.Keys(checks)), ", "))
	case !slices.Contains([]string{ByLint, ByBoot, ByNothing, ""}, v.CaughtBy) && !slices.ContainsFunc(scenarioChecks, func(c verify.Check) bool { return c.Name == v.CaughtBy }):
		fail("caught_by %q is neither %q, %q, %q nor a check of scenario %s (%s)", v.CaughtBy, ByLint, ByBoot, ByNothing, v.Scenario, checkNames(scenarioChecks))
	}
	for node, steps := range v.GateSkip {
		if _, ok := topo.Node(node); !ok {
			fail("gate_skip: %q is not a node of %s (have %s)", node, topo.Path, strings.Join(topo.NodeNames(), ", "))
		}
		for step := range strings.SplitSeq(steps, ",") {
			if !slices.Contains(vm.GateSteps, step) {
				fail("gate_skip: %s: step %q is not one of the gate's (%s)", node, step, strings.Join(vm.GateSteps, ", "))
			}
		}
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*"))
	if len(files) < 2 && len(v.GateSkip) == 0 {
		fail("the variant has no template: put the broken <template> or nodes/<node>/<template> next to it, or break the gate with gate_skip")
	}
	return v, errors.Join(errs...)
}

// Outcome is how one variant fared.
type Outcome struct {
	Variant Variant
	// Caught is true when Variant.CaughtBy failed on Variant.Node with Variant.Message.
	Caught bool
	// By is every failure the variant caused, as check@node (lint@node for
	// lint): the one that caught it first.
	By []string
	// Details are the failures' messages, in By's order; or why nothing ran.
	Details []string
	Elapsed time.Duration
}

// Also are the failures other than the one that caught the variant.
func (o Outcome) Also() []string {
	if o.Caught {
		return o.By[1:]
	}
	return o.By
}

// Input is what a self-test run needs.
type Input struct {
	Variants []Variant
	// Up is the lab every booted variant starts from; Run sets its Overlay
	// and a new RunID. Lint uses its topology and templates.
	Up harness.UpInput
	// Checks are the scenarios' checks, by scenario name.
	Checks map[string][]verify.Check
	// Diagnostics are the scenarios' own diagnostics, by scenario name: a
	// booted variant its check missed writes its scenario's.
	Diagnostics map[string][]verify.Diagnostic
	// Rules are the scenarios' lint rules, by scenario name: a variant is
	// linted, and booted, with its scenario's.
	Rules map[string][]lint.Rule
	// Progress receives what happens, as it happens.
	Progress io.Writer
}

// Run lints every variant first, so no VM boots before every fault lint can
// see has been caught, then boots the others one at a time. A boot is
// shared by no two variants: a fault's effects can cross nodes (one node's
// broken service upsets a check run on another), so only a boot of its
// own says which failures a fault caused.
func Run(ctx context.Context, in Input) ([]Outcome, error) {
	if in.Progress == nil {
		in.Progress = io.Discard
	}
	outcomes, err := Lint(ctx, in)
	if err != nil {
		return outcomes, err
	}
	for i, v := range in.Variants {
		if !v.Booted() || len(outcomes[i].By) > 0 {
			continue // judged by lint, or lint caught what it should not have seen
		}
		fmt.Fprintf(in.Progress, "\n== self-test %s: %s (boot, then scenario %s)\n", v.Name, v.Fault, v.Scenario)
		outcomes[i] = boot(ctx, in, v)
		if err := ctx.Err(); err != nil {
			return outcomes, err
		}
	}
	return outcomes, nil
}

// Lint judges the lint variants and makes sure lint passes the clean
// templates and the booted variants (a booted variant lint refuses would
// never boot). Each variant's drives are rendered once, as Up renders them,
// and linted with its scenario's rules (harness.Lint). Nothing boots.
func Lint(ctx context.Context, in Input) ([]Outcome, error) {
	scenarios := []string{""} // no variant: the clean templates with lint's own rules
	if len(in.Variants) > 0 {
		scenarios = nil
		for _, v := range in.Variants {
			scenarios = append(scenarios, v.Scenario)
		}
		slices.Sort(scenarios)
		scenarios = slices.Compact(scenarios)
	}
	for _, sc := range scenarios {
		if err := harness.Lint(ctx, in.up("", sc)).Err(); err != nil {
			return nil, fmt.Errorf("the clean templates fail lint (with scenario %s's rules), so no variant would prove anything; fix them first: %w", sc, err)
		}
	}
	outcomes := make([]Outcome, len(in.Variants))
	for i, v := range in.Variants {
		start := time.Now()
		report := harness.Lint(ctx, in.up(v.Dir, v.Scenario))
		if err := ctx.Err(); err != nil {
			return outcomes[:i], err
		}
		outcomes[i] = JudgeLint(v, report)
		outcomes[i].Elapsed = time.Since(start)
		for _, s := range report.Skipped {
			outcomes[i].Details = append(outcomes[i].Details, "lint did not check: "+s)
		}
	}
	return outcomes, nil
}

// up is the lab a variant starts from: in.Up with the variant's overlay
// and its scenario's lint rules.
func (in Input) up(overlay, scenario string) harness.UpInput {
	up := in.Up
	up.Overlay, up.LintRules, up.Diagnostics = overlay, in.Rules[scenario], in.Diagnostics[scenario]
	return up
}

// boot brings the topology up with the variant's overlay, runs its
// scenario's checks and takes it down again.
func boot(ctx context.Context, in Input, v Variant) Outcome {
	start := time.Now()
	up := variantUp(in, v)
	l, err := harness.Up(ctx, up)
	if err != nil {
		o := Outcome{Variant: v, Details: []string{"boot failed before any check ran: " + err.Error()}, Elapsed: time.Since(start)}
		if v.CaughtBy == ByBoot {
			o = JudgeBoot(v, err)
			o.Elapsed = time.Since(start)
		}
		return o
	}
	defer func() {
		if err := l.Down(ctx); err != nil {
			fmt.Fprintf(in.Progress, "self-test %s: teardown: %v\n", v.Name, err)
		}
	}()
	checks := in.Checks[v.Scenario]
	verdict := l.Check(ctx, checks)
	o := JudgeChecks(v, verdict.Results())
	o.Elapsed = time.Since(start)
	fmt.Fprintf(in.Progress, "self-test %s, run %s:\n%s", v.Name, up.RunID, verdict.Table())
	// Not what the variant predicts: keep what explains it.
	if err := l.Collect(ctx, !o.Caught); err == nil && !o.Caught {
		o.Details = append(o.Details, "diagnostics in "+l.ArtifactsDir)
	}
	if err := l.Report(l.Outcome(v.Scenario, checks, verdict, start)); err != nil {
		fmt.Fprintf(in.Progress, "self-test %s: report: %v\n", v.Name, err)
	}
	return o
}

// variantUp is the lab of one booted variant: the overlay, a run of its
// own with its own artifacts folder, and its scenario's diagnostics.
func variantUp(in Input, v Variant) harness.UpInput {
	up := in.up(v.Dir, v.Scenario)
	up.RunID = runid.New()
	if lv := up.Libvirt(); lv != nil && len(v.GateSkip) > 0 {
		// Only a restored node has a gate to skip steps of.
		restored := *lv
		restored.Start = config.BootSnapshot
		up.GateSkip, up.Platform = v.GateSkip, &restored
	}
	up.Paths.Artifacts = filepath.Join(up.Paths.Artifacts, v.Name)
	return up
}

// record adds one failure; the first that is the variant's predicted fault
// goes first and marks the variant caught.
func (o *Outcome) record(by, detail string, predicted bool) {
	if predicted && !o.Caught {
		o.Caught = true
		o.By = append([]string{by}, o.By...)
		o.Details = append([]string{detail}, o.Details...)
		return
	}
	o.By = append(o.By, by)
	o.Details = append(o.Details, detail)
}

// JudgeLint: a lint variant is caught when lint reports a problem on its
// node that holds its message; a booted variant must pass lint, or its
// variant.yaml is wrong (lint catches it now: say caught_by: lint).
func JudgeLint(v Variant, r lint.Report) Outcome {
	o := Outcome{Variant: v}
	errs := r.Errors()
	for _, p := range errs {
		o.record(ByLint+"@"+orAll(p.Node), p.String(),
			v.CaughtBy == ByLint && p.Node == v.Node && strings.Contains(p.Message, v.Message))
	}
	if v.Booted() && len(errs) > 0 {
		o.Details = append(o.Details, fmt.Sprintf("lint catches this variant before boot: if that is the fault, set caught_by: %s in %s", ByLint, filepath.Join(v.Dir, VariantFile)))
	}
	return o
}

// JudgeChecks: a booted variant is caught when its check failed on its node
// with its message; every other failure is listed too.
func JudgeChecks(v Variant, results []verify.Result) Outcome {
	o := Outcome{Variant: v}
	for _, r := range results {
		if r.Err == nil {
			continue
		}
		o.record(r.Check+"@"+r.Node, fmt.Sprintf("%s on %s: %v", r.Check, r.Node, r.Err),
			r.Check == v.CaughtBy && r.Node == v.Node && strings.Contains(r.Err.Error(), v.Message))
	}
	if v.CaughtBy == ByNothing && len(o.By) == 0 && len(results) > 0 {
		o.Caught, o.By = true, []string{"nothing (all green)"}
	}
	return o
}

// JudgeBoot: a boot variant is caught when the boot fails on its node
// saying its message (a BootError names "node <name>").
func JudgeBoot(v Variant, err error) Outcome {
	o := Outcome{Variant: v}
	node := orAll(nodeOf(err.Error()))
	o.record(ByBoot+"@"+node, "boot: "+err.Error(), v.CaughtBy == ByBoot && node == v.Node && strings.Contains(err.Error(), v.Message))
	return o
}

// nodeOf is the node a boot error names first ("node web01 ..."), or "".
func nodeOf(msg string) string {
	_, after, ok := strings.Cut(msg, "node ")
	if !ok {
		return ""
	}
	name, _, _ := strings.Cut(after, " ")
	return strings.TrimRight(name, ":,")
}

// Table is the run at a glance: variant, stage, what caught it, what else
// failed, how long it took, and whether that is what the variant predicts.
func Table(outcomes []Outcome) string {
	rows := [][]string{{"variant", "stage", "caught by", "also failed", "time", "verdict"}}
	for _, o := range outcomes {
		stage := "boot"
		if !o.Variant.Booted() {
			stage = ByLint
		}
		caught, verdict := "-", "ok"
		if o.Caught {
			caught = o.By[0]
		} else if o.Variant.CaughtBy == ByNothing {
			verdict = "FAILED: a valid variant must pass"
		} else {
			verdict = fmt.Sprintf("MISSED: want %s@%s", o.Variant.CaughtBy, o.Variant.Node)
		}
		also := strings.Join(o.Also(), " ")
		if also == "" {
			also = "-"
		}
		rows = append(rows, []string{o.Variant.Name, stage, caught, also, o.Elapsed.Round(10 * time.Millisecond).String(), verdict})
	}
	widths := make([]int, len(rows[0]))
	for _, r := range rows {
		for i, cell := range r {
			widths[i] = max(widths[i], len(cell))
		}
	}
	var b strings.Builder
	for _, r := range rows {
		for i, cell := range r {
			if i == len(r)-1 {
				b.WriteString(cell + "\n")
				continue
			}
			fmt.Fprintf(&b, "%-*s  ", widths[i], cell)
		}
	}
	return b.String()
}

// Missed lists the variants not caught by their own check.
func Missed(outcomes []Outcome) []string {
	var names []string
	for _, o := range outcomes {
		if !o.Caught {
			names = append(names, o.Variant.Name)
		}
	}
	return names
}

func orAll(node string) string {
	if node == "" {
		return "all"
	}
	return node
}

func checkNames(checks []verify.Check) string {
	var names []string
	for _, c := range checks {
		names = append(names, c.Name)
	}
	return strings.Join(names, ", ")
}
