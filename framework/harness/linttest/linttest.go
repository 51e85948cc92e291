// Package linttest lints the repository's reference topology with some of
// its templates overridden, as a boot renders and lints them: for tests of
// lint's own rules and of the rules a scenario adds (lint.Rule).
package linttest

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/drivelab/drivelab/framework/harness"
	"github.com/drivelab/drivelab/framework/lint"
	"github.com/drivelab/drivelab/framework/topology"
)

// Case is one lint run of the reference topology (fixtures/topology.yaml).
type Case struct {
	// Root is the repository root, relative to the test's package ("../..").
	Root   string
	Flavor string
	// Files are the overlay's templates, by path in it (index.html.tmpl,
	// nodes/web01/hosts.tmpl): each overrides the flavor's for every node,
	// or for one.
	Files map[string]string
	Rules []lint.Rule
}

// Run writes c.Files into a fresh overlay and lints the drives as
// harness.Lint does; it returns the report and the overlay folder, which
// problems name files in.
func Run(t testing.TB, c Case) (lint.Report, string) {
	t.Helper()
	topo, err := topology.Load(filepath.Join(c.Root, "fixtures", "topology.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	dir := ""
	if len(c.Files) > 0 {
		dir = t.TempDir()
	}
	for name, text := range c.Files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return harness.Lint(context.Background(), harness.UpInput{
		Topology: topo, TemplatesDir: filepath.Join(c.Root, "fixtures", "templates"), Flavor: c.Flavor,
		Overlay: dir, LintRules: c.Rules,
	}), dir
}

// Template is the flavor's template name with its first old replaced by new.
func Template(t testing.TB, root, flavor, name, old, new string) string {
	t.Helper()
	src, err := os.ReadFile(filepath.Join(root, "fixtures", "templates", flavor, name))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(src), old) {
		t.Fatalf("%s/%s has no %q", flavor, name, old)
	}
	return strings.Replace(string(src), old, new, 1)
}

// Find reports whether a problem reads prefix first and holds msg; else
// it lists them all, for the test's message.
func Find(problems []lint.Problem, prefix, msg string) (bool, string) {
	var all []string
	for _, p := range problems {
		if strings.HasPrefix(p.String(), prefix) && strings.Contains(p.String(), msg) {
			return true, ""
		}
		all = append(all, p.String())
	}
	return false, strings.Join(all, "\n")
}
