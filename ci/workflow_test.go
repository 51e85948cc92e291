package ci

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/rhysd/actionlint"

	"github.com/drivelab/drivelab/framework/testenv"
)

const root = ".."

func abs(t *testing.T, rel string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join(root, rel))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// workflows are the repository's workflow files; there must be some.
func workflows(t *testing.T) []string {
	t.Helper()
	var files []string
	for _, ext := range []string{"*.yml", "*.yaml"} {
		m, err := filepath.Glob(filepath.Join(abs(t, ".github/workflows"), ext))
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, m...)
	}
	if len(files) == 0 {
		t.Fatal("no workflow in .github/workflows")
	}
	return files
}

func TestWorkflowsPassActionlint(t *testing.T) {
	testenv.Have(t, ShellcheckUsed(), "shellcheck is not on PATH: run scripts are not checked")
	for _, path := range workflows(t) {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		errs, err := Lint(abs(t, ""), path, b)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range errs {
			t.Errorf("%s", e)
		}
	}
}

// A valid workflow in the repository's conventions, which each broken case
// below changes in one place.
const good = `name: t
on: workflow_dispatch
jobs:
  e2e:
    runs-on: [self-hosted, linux, x64, kvm]
    strategy:
      matrix:
        flavor: [debian12]
        shard: ["1/2", "2/2"]
    steps:
      - uses: actions/checkout@v6
      - run: make e2e FLAVOR="${{ matrix.flavor }}" SHARD="${{ matrix.shard }}" E2E_ARGS="${{ vars.DRIVELAB_LAB_MODE }}"
`

func TestActionlintRefusesBrokenWorkflows(t *testing.T) {
	cases := []struct{ name, from, to, want string }{
		{"good", "", "", ""},
		{"unknown key", "runs-on:", "runs-onn:", `unexpected key "runs-onn"`},
		{"undefined matrix value", "matrix.shard }}", "matrix.nope }}", `property "nope" is not defined`},
		{"unknown runner label", "x64, kvm]", "x64, gpu]", `label "gpu" is unknown`},
		{"misspelt repository variable", "vars.DRIVELAB_LAB_MODE", "vars.DRIVELAB_LABMODE", `undefined configuration variable "drivelab_labmode"`},
		{"unknown action input", "actions/checkout@v6\n", "actions/checkout@v6\n        with: {deep: 1}\n", `input "deep" is not defined`},
		{"not YAML", "jobs:\n", "jobs:\n  - [\n", "could not parse as YAML"},
	}
	if ShellcheckUsed() {
		cases = append(cases, struct{ name, from, to, want string }{
			"shellcheck finding", "- run: make", "- run: cd $HOME; make", "shellcheck reported issue"})
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			src := strings.Replace(good, c.from, c.to, 1)
			if c.from != "" && src == good {
				t.Fatalf("case does not change the workflow: %q not found", c.from)
			}
			errs, err := Lint(abs(t, ""), "broken.yml", []byte(src))
			if err != nil {
				t.Fatal(err)
			}
			var all []string
			for _, e := range errs {
				all = append(all, e.Error())
			}
			switch {
			case c.want == "" && len(errs) > 0:
				t.Errorf("the good workflow has errors:\n%s", strings.Join(all, "\n"))
			case c.want != "" && !strings.Contains(strings.Join(all, "\n"), c.want):
				t.Errorf("want an error with %q, got:\n%s", c.want, strings.Join(all, "\n"))
			}
		})
	}
}

func TestWorkflowsNameExistingMakeTargetsFlavorsAndShards(t *testing.T) {
	files := repoFiles(t)
	var all []Workflow
	for _, path := range workflows(t) {
		w, err := Load(path)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, w)
		if err := w.CheckMakeTargets(abs(t, "Makefile")); err != nil {
			t.Error(err)
		}
		if err := w.CheckFlavors(abs(t, "fixtures/templates")); err != nil {
			t.Error(err)
		}
		if err := w.CheckShards(); err != nil {
			t.Error(err)
		}
		if err := w.CheckKVMJobs(); err != nil {
			t.Error(err)
		}
		if err := w.CheckPaths(files); err != nil {
			t.Error(err)
		}
	}
	if err := CheckPins(all); err != nil {
		t.Error(err)
	}
}

// repoFiles are the files git tracks or would track, relative to the root.
func repoFiles(t *testing.T) []string {
	t.Helper()
	testenv.Tool(t, "git")
	out, err := exec.Command("git", "-C", abs(t, ""), "ls-files", "--cached", "--others", "--exclude-standard").Output()
	if err != nil {
		testenv.Skip(t, "git cannot list the repository's files here (%v): not a checkout", err)
	}
	return strings.Split(strings.TrimSpace(string(out)), "\n")
}

// The pull-request workflow is the nightly's sibling: it boots only what
// e2e diff says the change touches, on the same runners.
func TestPullRequestWorkflowBootsTheTouchedScenarios(t *testing.T) {
	w, err := Load(abs(t, ".github/workflows/pr.yml"))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(w.targets(w.Jobs["test"]), []string{"test"}) || !slices.Equal(w.targets(w.Jobs["e2e"]), []string{"build", "e2e"}) {
		t.Errorf("jobs test and e2e run make %v and %v, want test, then build and e2e", w.targets(w.Jobs["test"]), w.targets(w.Jobs["e2e"]))
	}
	e2e := w.Jobs["e2e"]
	if e2e.If == nil || !strings.Contains(e2e.If.Value, "needs.test.outputs.scenarios != ''") {
		t.Error("job e2e does not wait for scenarios that e2e diff says are touched")
	}
	scripts := ""
	for _, id := range w.jobIDs() {
		for _, step := range w.Jobs[id].Steps {
			if run, ok := step.Exec.(*actionlint.ExecRun); ok {
				scripts += run.Run.Value + "\n"
			}
		}
	}
	for _, want := range []string{`bin/e2e diff --format markdown >>"$GITHUB_STEP_SUMMARY"`, "bin/e2e diff --scenarios-only --flavor", `E2E_LABELS="$LABELS"`} {
		if !strings.Contains(scripts, want) {
			t.Errorf("pr.yml runs no %q", want)
		}
	}
}

func TestCheckKVMJobsWantsTheKVMRunners(t *testing.T) {
	if err := parse(t, good).CheckKVMJobs(); err != nil {
		t.Errorf("good workflow refused: %v", err)
	}
	for _, to := range []string{"[self-hosted, linux, x64]", "ubuntu-latest", "[self-hosted, linux, kvm, x64]"} {
		err := parse(t, strings.Replace(good, "[self-hosted, linux, x64, kvm]", to, 1)).CheckKVMJobs()
		if err == nil || !strings.Contains(err.Error(), "broken.yml:4: job e2e runs `make e2e` on [") {
			t.Errorf("runs-on %s: %v, want the job named", to, err)
		}
	}
	// A job that boots nothing may run anywhere.
	if err := parse(t, strings.Replace(strings.Replace(good, "[self-hosted, linux, x64, kvm]", "ubuntu-latest", 1), "make e2e", "make test", 1)).CheckKVMJobs(); err != nil {
		t.Errorf("make test on ubuntu-latest refused: %v", err)
	}
}

func TestCheckPinsWantsOneVersionPerAction(t *testing.T) {
	other := strings.Replace(good, "name: t\n", "name: u\n", 1)
	if err := CheckPins([]Workflow{parse(t, good), parse(t, other)}); err != nil {
		t.Errorf("the same pins refused: %v", err)
	}
	for to, want := range map[string]string{
		"actions/checkout@v5\n":   "uses actions/checkout@v5, but broken.yml:11 has @v6; use one version in every workflow",
		"actions/checkout\n":      "uses actions/checkout without a version",
		"actions/checkout@main\n": "uses actions/checkout@main, but",
	} {
		err := CheckPins([]Workflow{parse(t, good), parse(t, strings.Replace(other, "actions/checkout@v6\n", to, 1))})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", to, err, want)
		}
	}
}

func TestCheckPathsWantsEachFilterToMatch(t *testing.T) {
	files := []string{"go.mod", "cmd/e2e/main.go", "fixtures/templates/debian12/hosts.tmpl", "fixtures/topology.yaml"}
	src := strings.Replace(good, "on: workflow_dispatch\n", "on:\n  pull_request:\n    paths:\n      - \"fixtures/templates/**\"\n      - \"fixtures/topology*.yaml\"\n      - \"**.go\"\n      - \"go.mod\"\n", 1)
	if err := parse(t, src).CheckPaths(files); err != nil {
		t.Errorf("filters that match refused: %v", err)
	}
	for from, to := range map[string]string{
		"fixtures/templates/**": "fixture/templates/**",
		"**.go":                 "*.go",
		"go.mod":                "go.sum",
	} {
		err := parse(t, strings.Replace(src, from, to, 1)).CheckPaths(files)
		if err == nil || !strings.Contains(err.Error(), `paths filter "`+to+`" of pull_request matches no file`) || !strings.Contains(err.Error(), "broken.yml:") {
			t.Errorf("%s: %v, want it named with file and line", to, err)
		}
	}
}

func parse(t *testing.T, src string) Workflow {
	t.Helper()
	w, err := Parse("broken.yml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func TestCheckMakeTargetsNamesAMissingRule(t *testing.T) {
	makefile := filepath.Join(t.TempDir(), "Makefile")
	rules := "E2E := bin/e2e\n.PHONY: test e2e\ntest: build\n\tgo test ./...\ne2e: build\n\ttrue\nbuild:\n"
	if err := os.WriteFile(makefile, []byte(rules), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ name, from, to, want string }{
		{"good", "", "", ""},
		{"renamed target", "make e2e", "make e2e-nightly", `no rule "e2e-nightly"`},
		{"second target", "make e2e", "make test e2e bench", `no rule "bench"`},
		{"after sudo and a continuation", "- run: make e2e", "- run: |\n          sudo -E make -C . \\\n            FLAVOR=x golden", `no rule "golden"`},
		{"variable is not a rule", "make e2e", "make E2E", `no rule "E2E"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := parse(t, strings.Replace(good, c.from, c.to, 1)).CheckMakeTargets(makefile)
			switch {
			case c.want == "" && err != nil:
				t.Errorf("good workflow refused: %v", err)
			case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
				t.Errorf("got %v, want an error with %q", err, c.want)
			}
		})
	}
}

func TestMakeTargetsStopAtTheEndOfTheCommand(t *testing.T) {
	got := makeTargets("# make nope\nsudo -E make test FLAVOR=a -j2 && make -f Makefile e2e; echo done\nmake bench;ls")
	if strings.Join(got, " ") != "test e2e bench" {
		t.Errorf("targets %q, want test e2e bench", got)
	}
}

// A flavor renamed under fixtures/templates (or misspelt in the workflow)
// turns the check red.
func TestCheckFlavorsNamesAMissingFlavor(t *testing.T) {
	templates := t.TempDir()
	if err := os.MkdirAll(filepath.Join(templates, "debian12"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(templates, "debian12", "flavor.yaml"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := parse(t, good).CheckFlavors(templates); err != nil {
		t.Errorf("good workflow refused: %v", err)
	}
	for _, src := range []string{
		strings.Replace(good, "[debian12]", "[debian12, centos7]", 1),
		strings.Replace(good, "flavor: [debian12]", "flavor: [debian12]\n        include:\n          - flavor: debian13", 1),
	} {
		err := parse(t, src).CheckFlavors(templates)
		if err == nil || !strings.Contains(err.Error(), "has no") || !strings.Contains(err.Error(), "the flavors are: debian12") {
			t.Errorf("got %v, want the missing flavor named with the ones there", err)
		}
	}
	if err := os.Rename(filepath.Join(templates, "debian12"), filepath.Join(templates, "debian13")); err != nil {
		t.Fatal(err)
	}
	if err := parse(t, good).CheckFlavors(templates); err == nil || !strings.Contains(err.Error(), `"debian12"`) {
		t.Errorf("after renaming the flavor: %v, want debian12 named", err)
	}
}

func TestCheckShardsWantsEachOfNOnce(t *testing.T) {
	for _, c := range []struct{ shards, want string }{
		{`["1/2", "2/2"]`, ""},
		{`["1/1"]`, ""},
		{`["1/3", "3/3", "2/3"]`, ""},
		{`["1/2"]`, "shard 2/2 is missing"},
		{`["1/2", "1/2", "2/2"]`, `"1/2" is listed twice`},
		{`["1/2", "2/3"]`, "splits in 3, the others in 2"},
		{`["0/2", "1/2", "2/2"]`, "1-based"},
		{`["a/b", "1/1"]`, "want i/n"},
	} {
		src := strings.Replace(good, `["1/2", "2/2"]`, c.shards, 1)
		err := parse(t, src).CheckShards()
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s refused: %v", c.shards, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s: got %v, want an error with %q", c.shards, err, c.want)
		case err != nil && !strings.Contains(err.Error(), "broken.yml:"):
			t.Errorf("%s: %v does not name the file and line", c.shards, err)
		}
	}
}
