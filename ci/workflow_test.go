package ci

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

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
	for _, path := range workflows(t) {
		w, err := Load(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := w.CheckMakeTargets(abs(t, "Makefile")); err != nil {
			t.Error(err)
		}
		if err := w.CheckFlavors(abs(t, "fixtures/templates")); err != nil {
			t.Error(err)
		}
		if err := w.CheckShards(); err != nil {
			t.Error(err)
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
