package harness

import (
	"bytes"
	"context"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/drivelab/drivelab/framework/lint"
)

// Up and a kept lab's Update (and Attach) render once: the harness renders
// in one function, each of them reaches it exactly once and not in a loop,
// and a reboot reinstances that result instead of rendering again. Read
// from the package's code, so a second rendering anywhere fails here.
func TestOneRenderingPerRun(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	callers := map[string][]string{} // callee -> calling functions, one entry per call
	fset := token.NewFileSet()
	for _, file := range files {
		if strings.HasSuffix(file, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, file, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, decl := range f.Decls {
			fn, ok := decl.(*ast.FuncDecl)
			if !ok || fn.Body == nil {
				continue
			}
			var stack []ast.Node
			ast.Inspect(fn.Body, func(n ast.Node) bool {
				if n == nil {
					stack = stack[:len(stack)-1]
					return true
				}
				if call, ok := n.(*ast.CallExpr); ok {
					name := callee(call.Fun)
					inLoop := slices.ContainsFunc(stack, func(s ast.Node) bool {
						_, isFor := s.(*ast.ForStmt)
						_, isRange := s.(*ast.RangeStmt)
						_, isFunc := s.(*ast.FuncLit)
						return isFor || isRange || isFunc
					})
					if inLoop && slices.Contains([]string{"render.Render", "renderLinted", "lintedDrives", "planKept"}, name) {
						t.Errorf("%s: %s calls %s in a loop or closure", fset.Position(call.Pos()), fn.Name.Name, name)
					}
					callers[name] = append(callers[name], fn.Name.Name)
				}
				stack = append(stack, n)
				return true
			})
		}
	}
	for callee, want := range map[string][]string{
		"render.Render": {"renderLinted"},
		"renderLinted":  {"Lint", "WriteDrives", "lintedDrives"},
		"lintedDrives":  {"Prepare", "planKept"},
		"planKept":      {"Attach", "Update"},
		"Up":            {"Keep"},
	} {
		got := slices.Sorted(slices.Values(callers[callee]))
		if !slices.Equal(got, want) {
			t.Errorf("%s is called by %v, want once by each of %v", callee, got, want)
		}
	}
}

// callee names a call's function as written: render.Render, planKept, p.reinstance.
func callee(fun ast.Expr) string {
	switch f := fun.(type) {
	case *ast.Ident:
		return f.Name
	case *ast.SelectorExpr:
		if x, ok := f.X.(*ast.Ident); ok {
			return x.Name + "." + f.Sel.Name
		}
		return f.Sel.Name
	}
	return ""
}

// Lint checks the drives a run boots, the run's keys in vendor_data and
// all: the scenario's rules see them, and a broken template fails with its
// node, file and line before anything is touched.
func TestLintedDrivesAreTheDrivesThatBoot(t *testing.T) {
	in := newLabInput(t)
	var sawKeys []string
	up := UpInput{
		TemplatesDir: templatesDir, Flavor: "debian12", Overlay: in.overlay, PackageDir: in.packages,
		LintRules: []lint.Rule{func(_ context.Context, p *lint.Pass) {
			for _, d := range p.Drives {
				if bytes.Contains(d.VendorData, []byte(strings.TrimSpace(in.access.Hosts[d.Node.Name].AuthorizedKey))) {
					sawKeys = append(sawKeys, d.Node.Name)
				}
			}
		}},
	}
	res, _, err := lintedDrives(context.Background(), up, in.topo, in.access, "nothing was booted")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(sawKeys, in.topo.NodeNames()) || !res.Complete() {
		t.Errorf("lint saw the run's host keys on %v, want every node", sawKeys)
	}
	for _, d := range res.Drives {
		if !bytes.Contains(d.VendorData, []byte(strings.TrimSpace(in.access.Hosts[d.Node.Name].AuthorizedKey))) {
			t.Errorf("%s: the drive lint passed is not the one carrying the run's keys", d.Node.Name)
		}
	}

	page := filepath.Join(in.overlay, "nodes", "web02", "index.html.tmpl")
	write(t, page, "Greetings from\n{{.Node.Fqdn}} !\n")
	_, _, err = lintedDrives(context.Background(), up, in.topo, in.access, "nothing was booted")
	if err == nil || !strings.Contains(err.Error(), "lint (nothing was booted): 1 problem(s):\nnode web02: "+page+":2: ") {
		t.Errorf("got %v, want the broken line named", err)
	}
}

// A reboot gives the changed nodes fresh uuids in the drives lint passed:
// the same bytes a rendering with those uuids gives, the other nodes'
// drives untouched.
func TestReinstanceIsTheRenderingWithNewUUIDs(t *testing.T) {
	in := newLabInput(t)
	up := UpInput{TemplatesDir: templatesDir, Flavor: "debian12", Overlay: in.overlay, PackageDir: in.packages}
	res, _, err := lintedDrives(context.Background(), up, in.topo, in.access, "nothing was touched")
	if err != nil {
		t.Fatal(err)
	}
	before := digests(t, res.Drives)
	p := &keptPlan{topo: in.topo, drives: res, changes: []Change{{Node: "web01", Domain: "missing"}}}
	r, err := p.reinstance()
	if err != nil || !slices.Equal(r.names(), []string{"web01"}) {
		t.Fatalf("reinstance = %v, %v", r.names(), err)
	}
	uuid := r.changes[0].UUID
	if n, _ := r.drives.Topology.Node("web01"); n.UUID != uuid || uuid == "" {
		t.Fatalf("web01's uuid in the reboot plan: %q, in its change %q", n.UUID, uuid)
	}
	if n, _ := in.topo.Node("web01"); n.UUID == uuid {
		t.Error("reinstance changed the topology it was given")
	}
	if p.changes[0].UUID != "" || p.drives != res {
		t.Error("reinstance changed the plan it was called on")
	}
	rec := &Record{}
	for _, n := range r.drives.Topology.Nodes {
		rec.Nodes = append(rec.Nodes, NodeRecord{Name: n.Name, UUID: n.UUID})
	}
	fresh := digests(t, in.render(t, rec.Effective(in.topo)))
	after := digests(t, r.drives.Drives)
	for _, n := range in.topo.NodeNames() {
		if after[n].Digest != fresh[n].Digest {
			t.Errorf("%s: reinstanced drive differs from a rendering with its uuid in %v", n, Changed(fresh[n], after[n]))
		}
	}
	if got := differing(in.topo, before, after); !slices.Equal(got, []string{"web01"}) {
		t.Errorf("reinstancing web01 changed %v", got)
	}
	if !bytes.Contains(r.drives.Drives[2].MetaData, []byte(`"uuid": "`+uuid+`"`)) {
		t.Errorf("web01's meta_data: %s", r.drives.Drives[2].MetaData)
	}
}

func TestVersionsRead(t *testing.T) {
	for _, c := range []struct {
		in   map[string]string
		want string
	}{
		{nil, ""},
		{map[string]string{"a": "2018-08-27", "b": "2018-08-27"}, "openstack/2018-08-27/ of every node's drive"},
		{map[string]string{"a": "latest", "c": "2018-08-27", "b": "latest"}, "openstack/2018-08-27/ on c; openstack/latest/ on a, b"},
	} {
		if got := versionsRead(c.in); got != c.want {
			t.Errorf("versionsRead(%v) = %q, want %q", c.in, got, c.want)
		}
	}
}
