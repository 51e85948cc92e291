// Package drivediff says what a change to templates or topologies does to
// the drives: it renders every scenario's drives from two trees (a git
// revision's files and the work tree) with this tree's code and the same
// fixed stand-in access, so that only the templates, flavors and
// topologies differ, and lists each node's changed drive files with a
// unified diff and the scenarios they touch (`e2e diff`). It renders
// only; nothing is linted, built or booted.
package drivediff

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/drivelab/drivelab/framework/golden"
	"github.com/drivelab/drivelab/framework/render"
	"github.com/drivelab/drivelab/framework/topology"
)

// Scenario is what the diff needs of a scenario; paths are relative to a
// tree's root.
type Scenario struct {
	Name     string
	Topology string
	// Overlay is a folder of templates overriding the flavor's; "": none.
	Overlay string
	// Flavors are the flavors it has templates for; empty: every flavor.
	Flavors []string
}

// Input is the two trees and what to render in each.
type Input struct {
	// Base is the root of the tree compared against (a revision's files),
	// Work the root of the tree as it is now.
	Base, Work string
	// Templates is the folder of flavors, relative to each root
	// (fixtures/templates).
	Templates string
	Scenarios []Scenario
	// Flavors limits the renderings to these flavors; empty: every flavor
	// either tree has.
	Flavors []string
}

// Report is what changed, rendering by rendering.
type Report struct {
	// Renderings are the renderings (flavor, topology, overlay) whose drives
	// or inputs differ, in the order of the first scenario using each.
	Renderings []Rendering
	// Touched are the scenarios whose drives or inputs differ, in the order
	// given, with why.
	Touched []Touched
}

// Rendering is one flavor's drives of one topology (and overlay), which
// every scenario in Scenarios boots.
type Rendering struct {
	Flavor, Topology, Overlay string
	Scenarios                 []string
	// Inputs are the topology and flavor files that differ, as a note each.
	Inputs []string
	Nodes  []NodeChange
}

// NodeChange is one node's drive files that differ.
type NodeChange struct {
	Node  string
	Files []FileChange
}

// FileChange is one drive file that differs.
type FileChange struct {
	// Path is the path inside the drive; Guest where cloud-init writes it,
	// "" for the openstack/latest files.
	Path, Guest string
	// Template is the template (relative to the work tree, or to the base
	// tree when the file is gone) that fills it, "" when none does.
	Template string
	// Diff is a unified diff, base to work, with private keys redacted.
	Diff string
}

// Empty says nothing changed.
func (r *Report) Empty() bool { return len(r.Touched) == 0 }

// LabelFilter is the touched scenarios as a Ginkgo label filter (every
// scenario's name is one of its labels), "" when none is touched.
func (r *Report) LabelFilter() string {
	var names []string
	for _, t := range r.Touched {
		names = append(names, t.Scenario)
	}
	return strings.Join(names, " || ")
}

// Touched is a scenario the change touches and why: each of its nodes
// whose drive differs ("debian12: haproxy") and each input that changed.
type Touched struct {
	Scenario string
	Why      []string
}

// key names one rendering.
type key struct{ flavor, topology, overlay string }

// Diff renders every scenario's drives in both trees, for every flavor
// either tree has that the scenario supports, and compares them. A tree
// that lacks a topology, flavor or overlay (one added or removed since)
// has no drives there; the base failing to render is shown as such, the
// work tree failing is an error, naming what to fix.
func Diff(ctx context.Context, in Input) (*Report, error) {
	flavors := union(flavorsIn(filepath.Join(in.Base, in.Templates)), flavorsIn(filepath.Join(in.Work, in.Templates)))
	for _, f := range in.Flavors {
		if !slices.Contains(flavors, f) {
			return nil, fmt.Errorf("flavor %q is in neither tree's %s; the flavors are %s", f, in.Templates, strings.Join(flavors, ", "))
		}
	}
	if len(in.Flavors) > 0 {
		flavors = slices.DeleteFunc(flavors, func(f string) bool { return !slices.Contains(in.Flavors, f) })
	}
	var (
		order []key
		users = map[key][]string{}
	)
	for _, s := range in.Scenarios {
		for _, f := range flavors {
			if len(s.Flavors) > 0 && !slices.Contains(s.Flavors, f) {
				continue
			}
			k := key{f, s.Topology, s.Overlay}
			if _, seen := users[k]; !seen {
				order = append(order, k)
			}
			users[k] = append(users[k], s.Name)
		}
	}
	rep := &Report{}
	why := map[string][]string{}
	var errs []error
	for _, k := range order {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		r, err := in.compare(ctx, k)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if len(r.Inputs) == 0 && len(r.Nodes) == 0 {
			continue
		}
		r.Scenarios = users[k]
		rep.Renderings = append(rep.Renderings, r)
		for _, s := range r.Scenarios {
			why[s] = append(why[s], r.Inputs...)
			for _, n := range r.Nodes {
				why[s] = append(why[s], k.flavor+": "+n.Node)
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	for _, s := range in.Scenarios {
		if w, ok := why[s.Name]; ok {
			rep.Touched = append(rep.Touched, Touched{Scenario: s.Name, Why: dedupe(w)})
		}
	}
	return rep, nil
}

// compare renders k in both trees and compares the drives and inputs.
func (in Input) compare(ctx context.Context, k key) (Rendering, error) {
	r := Rendering{Flavor: k.flavor, Topology: k.topology, Overlay: k.overlay}
	for _, f := range []string{k.topology, filepath.Join(in.Templates, k.flavor, render.FlavorFile)} {
		if note := changed(filepath.Join(in.Base, f), filepath.Join(in.Work, f), f); note != "" {
			r.Inputs = append(r.Inputs, note)
		}
	}
	base, err := in.drives(ctx, in.Base, k)
	if err != nil {
		// A base that does not render (it was broken, or this code reads
		// its files otherwise) has no drives: every file shows as new,
		// and the note says why.
		base = map[string]files{}
		r.Inputs = append(r.Inputs, "the base does not render: "+firstLine(err))
	}
	work, err := in.drives(ctx, in.Work, k)
	if err != nil {
		return r, fmt.Errorf("%s, flavor %s: the work tree's drives do not render; fix it (e2e lint shows every problem): %w", k.topology, k.flavor, err)
	}
	for _, node := range union(slices.Collect(maps.Keys(base)), slices.Collect(maps.Keys(work))) {
		if c := compareNode(node, base[node], work[node]); len(c.Files) > 0 {
			r.Nodes = append(r.Nodes, c)
		}
	}
	// Nodes in topology order, as every other listing has them.
	if topo, err := topology.Load(filepath.Join(in.Work, k.topology)); err == nil {
		order := topo.NodeNames()
		slices.SortStableFunc(r.Nodes, func(a, b NodeChange) int {
			return index(order, a.Node) - index(order, b.Node)
		})
	}
	return r, nil
}

// file is one drive file's text as compared, and where it comes from.
type file struct {
	text, guest, template string
}

// files are one node's drive files by drive path.
type files map[string]file

// drives renders k in the tree at root: each node's files, private keys
// redacted. A tree without k's topology, flavor or overlay has no drives.
func (in Input) drives(ctx context.Context, root string, k key) (map[string]files, error) {
	templates := filepath.Join(root, in.Templates)
	inputs := []string{filepath.Join(root, k.topology), filepath.Join(templates, k.flavor, render.FlavorFile)}
	if k.overlay != "" {
		inputs = append(inputs, filepath.Join(root, k.overlay))
	}
	for _, p := range inputs {
		if _, err := os.Stat(p); errors.Is(err, os.ErrNotExist) {
			return map[string]files{}, nil
		}
	}
	topo, err := topology.Load(filepath.Join(root, k.topology))
	if err != nil {
		return nil, err
	}
	overlay := ""
	if k.overlay != "" {
		overlay = filepath.Join(root, k.overlay)
	}
	res, err := render.Render(ctx, render.Input{
		Topology: topo, TemplatesDir: templates, Flavor: k.flavor, Overlay: overlay, Access: standIn(topo),
	})
	if err != nil {
		return nil, err
	}
	out := map[string]files{}
	for _, d := range res.Drives {
		d, _ = render.Redacted(d)
		fs := files{}
		tmpl := func(drivePath string) string {
			t := d.Templates[drivePath]
			if rel, err := filepath.Rel(root, t); err == nil && t != "" {
				return rel
			}
			return t
		}
		for _, f := range []struct {
			path string
			data []byte
		}{{render.MetaDataPath, d.MetaData}, {render.UserDataPath, d.UserData}, {render.VendorDataPath, d.VendorData}, {render.NetworkDataPath, d.NetworkData}} {
			if f.data != nil {
				fs[f.path] = file{text: string(f.data), template: tmpl(f.path)}
			}
		}
		for _, c := range d.Content {
			p := render.ContentFile(c.ContentPath)
			text := string(c.Data)
			if c.Data == nil && c.Package != "" {
				// Package bytes are not the templates' business: the name is.
				text = "package file " + c.Package + "\n"
			}
			fs[p] = file{text: text, guest: c.GuestPath, template: tmpl(p)}
		}
		out[d.Node.Name] = fs
	}
	return out, nil
}

// compareNode lists the files of one node's drive that differ.
func compareNode(node string, base, work files) NodeChange {
	c := NodeChange{Node: node}
	for _, p := range union(slices.Collect(maps.Keys(base)), slices.Collect(maps.Keys(work))) {
		b, inBase := base[p]
		w, inWork := work[p]
		if inBase && inWork && b.text == w.text {
			continue
		}
		fc := FileChange{Path: p, Guest: w.guest, Template: w.template}
		if !inWork {
			fc.Guest, fc.Template = b.guest, b.template
		}
		from, to := "a/"+node+"/"+p, "b/"+node+"/"+p
		if !inBase {
			from = "/dev/null"
		}
		if !inWork {
			to = "/dev/null"
		}
		fc.Diff = golden.Diff(from, to, b.text, w.text)
		c.Files = append(c.Files, fc)
	}
	return c
}

// changed notes that the file rel differs between the trees (or is in one
// only), "" when it is the same.
func changed(base, work, rel string) string {
	b, berr := os.ReadFile(base)
	w, werr := os.ReadFile(work)
	switch {
	case berr != nil && werr != nil:
		return ""
	case berr != nil:
		return rel + " is new"
	case werr != nil:
		return rel + " is gone"
	case !bytes.Equal(b, w):
		return rel + " changed"
	}
	return ""
}

// standIn is a fixed access in place of a run's keys: the same in both
// trees, so vendor_data differs only when the code does, and no key of a
// run, which a diff would print (redacted as it is).
func standIn(topo *topology.Topology) *render.Access {
	a := &render.Access{
		AuthorizedKeys: []string{"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGRyaXZlbGFiIGRpZmY6IG5vdCBhIHJlYWwga2V5 drivelab-diff"},
		HostKeys:       map[string]render.HostKey{},
	}
	for _, n := range topo.Nodes {
		a.HostKeys[n.Name] = render.HostKey{
			Private: "-----BEGIN OPENSSH PRIVATE KEY-----\nZHJpdmVsYWIgZGlmZjogYSBzdGFuZC1pbiwgbm90IGEga2V5\n-----END OPENSSH PRIVATE KEY-----\n",
			Public:  "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGRyaXZlbGFiIGRpZmY6IG5vdCBhIHJlYWwga2V5 root@" + n.FQDN,
		}
	}
	return a
}

// flavorsIn are the flavors (folders with a flavor.yaml) in templates.
func flavorsIn(templates string) []string {
	matches, _ := filepath.Glob(filepath.Join(templates, "*", render.FlavorFile))
	var names []string
	for _, m := range matches {
		names = append(names, filepath.Base(filepath.Dir(m)))
	}
	return names
}

func union(a, b []string) []string {
	out := slices.Concat(a, b)
	slices.Sort(out)
	return slices.Compact(out)
}

func dedupe(s []string) []string {
	var out []string
	for _, v := range s {
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

func index(list []string, s string) int {
	if i := slices.Index(list, s); i >= 0 {
		return i
	}
	return len(list)
}

func firstLine(err error) string {
	s, _, _ := strings.Cut(err.Error(), "\n")
	return s
}
