package harness

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/drivelab/drivelab/framework/render"
	"github.com/drivelab/drivelab/framework/topology"
	"github.com/drivelab/drivelab/framework/vm"
)

// A kept lab is the developer loop's lab (Molecule's converge, Test
// Kitchen's kitchen converge): `e2e up` boots it and leaves it running,
// later commands find it through its Record, and `e2e up` after a template
// change boots again only the nodes whose drive changed.

// KeepInput is a lab to keep: UpInput (Topology is the file as it is now;
// RunID is the kept lab's for Update and Attach) and the scenario whose
// checks `e2e check` runs against it.
type KeepInput struct {
	UpInput
	Scenario string
}

// Change is a node of a kept lab that differs from what it booted, and why.
type Change struct {
	Node string
	// Files are the drive paths whose content changed, each with the
	// template or package that fills it now.
	Files []string
	// Domain is the node's libvirt state when it is not running
	// ("missing" when it is gone).
	Domain string
	// UUID is the new instance uuid Update gave the node.
	UUID string
}

// Reason says why the node is booted again.
func (c Change) Reason() string {
	var why []string
	if c.Domain != "" {
		why = append(why, "domain "+c.Domain)
	}
	if len(c.Files) > 0 {
		why = append(why, "drive changed: "+strings.Join(c.Files, ", "))
	}
	return strings.Join(why, "; ")
}

// Keep boots a fresh lab as Up does and records it as the kept lab. The
// caller closes the returned lab's sessions with Close; the nodes stay up.
func Keep(ctx context.Context, in KeepInput) (*Run, *Record, error) {
	l, err := Up(ctx, in.UpInput)
	if err != nil {
		return nil, nil, err
	}
	rec, err := newRecord(in, l)
	if err == nil {
		err = rec.Save(in.Paths)
	}
	if err == nil {
		err = SetCurrent(in.Paths, rec.Run)
	}
	if err == nil {
		err = l.ticket.Keep()
	}
	if err != nil {
		return nil, nil, errors.Join(fmt.Errorf("recording kept lab %s: %w", in.RunID, err), l.Down(ctx))
	}
	return l, rec, nil
}

func newRecord(in KeepInput, l *Run) (*Record, error) {
	now := time.Now().UTC()
	rec := &Record{Run: in.RunID, Created: now, Updated: now}
	if lv := in.Libvirt(); lv != nil {
		rec.Image = lv.Image
	}
	if err := rec.setInputs(in, l.ArtifactsDir); err != nil {
		return nil, err
	}
	for _, d := range l.Drives {
		dg, err := Digest(d)
		if err != nil {
			return nil, err
		}
		rec.Nodes = append(rec.Nodes, NodeRecord{Name: d.Node.Name, UUID: d.Node.UUID, Drive: dg, Booted: now})
	}
	return rec, nil
}

// setInputs records where the lab's templates come from, as absolute paths
// so that later commands work from any directory.
func (r *Record) setInputs(in KeepInput, artifacts string) error {
	r.Scenario, r.Flavor = in.Scenario, in.Flavor
	for _, p := range []struct {
		dst *string
		src string
	}{
		{&r.Topology, in.Topology.Path}, {&r.Templates, in.TemplatesDir}, {&r.Overlay, in.Overlay},
		{&r.PackageDir, in.PackageDir}, {&r.Artifacts, artifacts},
	} {
		*p.dst = ""
		if p.src == "" {
			continue
		}
		abs, err := filepath.Abs(p.src)
		if err != nil {
			return err
		}
		*p.dst = abs
	}
	return nil
}

// Update brings the kept lab rec in line with the templates in in: it
// re-renders every drive with the uuids in use, and boots again, each with
// a fresh instance uuid, only the nodes whose drive changed or whose domain
// is not running. The other nodes keep running untouched. It returns the
// lab connected to every node and the changes it made (none when nothing
// changed). Lint problems fail before anything is touched; a failed boot
// leaves the untouched nodes running and the record as it was, so the next
// Update boots the failed nodes again.
func Update(ctx context.Context, in KeepInput, rec *Record) (*Run, []Change, error) {
	p, err := planKept(ctx, in, rec)
	if err != nil {
		return nil, nil, err
	}
	l := p.lab(in, rec)
	for _, c := range p.changes {
		fmt.Fprintf(progressOf(in.UpInput), "%-8s %s: booting it again with a fresh instance uuid\n", c.Node, c.Reason())
	}
	topo, changes := p.topo, p.changes
	if len(p.changes) > 0 {
		r, err := p.reinstance()
		if err != nil {
			return nil, p.changes, err
		}
		topo, changes, l.Drives = r.drives.Topology, r.changes, r.drives.Drives
		if err := r.apply(ctx, in, rec, l); err != nil {
			return nil, changes, errors.Join(err, l.saveDrives())
		}
	}
	if err := rec.setInputs(in, rec.Artifacts); err != nil {
		return nil, changes, err
	}
	rec.Updated = time.Now().UTC()
	if err := rec.Save(in.Paths); err != nil {
		return nil, changes, err
	}
	l.in.Topology = topo
	if err := l.Connect(ctx); err != nil {
		return nil, changes, err
	}
	return l, changes, nil
}

// Attach connects to the kept lab rec as it runs, for checks and shells.
// It boots nothing: a node whose domain is not running is an error, and
// drives that differ from what the nodes booted are returned as changes
// (run Update to apply them).
func Attach(ctx context.Context, in KeepInput, rec *Record) (*Run, []Change, error) {
	p, err := planKept(ctx, in, rec)
	if err != nil {
		return nil, nil, err
	}
	var down []string
	for _, c := range p.changes {
		if c.Domain != "" {
			down = append(down, fmt.Sprintf("%s (domain %s)", c.Node, c.Domain))
		}
	}
	if len(down) > 0 {
		return nil, p.changes, fmt.Errorf("kept lab %s: %s not running: `e2e up` boots them again", rec.Run, strings.Join(down, ", "))
	}
	l := p.lab(in, rec)
	if err := l.Connect(ctx); err != nil {
		return nil, p.changes, err
	}
	return l, p.changes, nil
}

// keptPlan is a kept lab re-rendered with the uuids in use, and how it
// differs from what runs.
type keptPlan struct {
	topo   *topology.Topology // the effective topology
	client topology.Node
	access *Access
	// drives is the one rendering of this update: linted, diffed, and
	// (reinstanced) built for the nodes booted again.
	drives  *render.Result
	changes []Change
}

func planKept(ctx context.Context, in KeepInput, rec *Record) (*keptPlan, error) {
	if err := rec.SameNodes(in.Topology); err != nil {
		return nil, err
	}
	p := &keptPlan{topo: rec.Effective(in.Topology)}
	var err error
	if p.client, err = p.topo.ClientNode(); err != nil {
		return nil, err
	}
	if p.access, err = LoadOrCreateAccess(filepath.Join(RunDir(in.Paths, rec.Run), "keys"), p.topo); err != nil {
		return nil, err
	}
	if p.drives, _, err = lintedDrives(ctx, in.UpInput, p.topo, p.access, "nothing was touched"); err != nil {
		return nil, err
	}
	states, err := in.Platform.States(ctx, rec.Run)
	if err != nil {
		return nil, err
	}
	p.changes, err = changes(rec, p.drives.Drives, states)
	return p, err
}

// changes compares each node's drive and domain state with the record.
func changes(rec *Record, drives []render.Drive, states map[string]string) ([]Change, error) {
	var out []Change
	for _, d := range drives {
		dg, err := Digest(d)
		if err != nil {
			return nil, err
		}
		c := Change{Node: d.Node.Name}
		for _, f := range Changed(rec.Node(d.Node.Name).Drive, dg) {
			c.Files = append(c.Files, describe(d, f))
		}
		switch st, ok := states[d.Node.Name]; {
		case !ok:
			c.Domain = "missing"
		case st != "running":
			c.Domain = st
		}
		if len(c.Files) > 0 || c.Domain != "" {
			out = append(out, c)
		}
	}
	return out, nil
}

// lab is the kept lab's Run, before it connects.
func (p *keptPlan) lab(in KeepInput, rec *Record) *Run {
	ui := in.UpInput
	ui.RunID, ui.Topology = rec.Run, p.topo
	return &Run{in: ui, ID: rec.Run, StateDir: RunDir(in.Paths, rec.Run), ArtifactsDir: rec.Artifacts, Drives: p.drives.Drives,
		Network: in.Platform.Network(rec.Run), access: p.access, client: p.client}
}

// rebootPlan is what Update does to the changed nodes, computed whole
// before anything is touched.
type rebootPlan struct {
	// changes are the plan's, each with the fresh instance uuid it boots with.
	changes []Change
	// drives are every node's, the changed ones carrying their fresh uuid.
	drives *render.Result
}

// names are the changed nodes'.
func (r rebootPlan) names() []string {
	var names []string
	for _, c := range r.changes {
		names = append(names, c.Node)
	}
	return names
}

// reinstance plans the reboot: a fresh instance uuid for every changed
// node, in its Change and its drive, without rendering again (see
// render.Result.Reinstanced). The plan it is called on stays as it was.
func (p *keptPlan) reinstance() (rebootPlan, error) {
	r := rebootPlan{changes: slices.Clone(p.changes)}
	uuids := map[string]string{}
	for i := range r.changes {
		uuid, err := vm.NewUUID()
		if err != nil {
			return rebootPlan{}, err
		}
		r.changes[i].UUID, uuids[r.changes[i].Node] = uuid, uuid
	}
	var err error
	r.drives, err = p.drives.Reinstanced(uuids)
	return r, err
}

// apply builds the drives, replaces the changed nodes' domains and, once
// they booted, records their new uuids and drives in rec (not yet saved).
func (r rebootPlan) apply(ctx context.Context, in KeepInput, rec *Record, l *Run) error {
	names := r.names()
	isos, err := buildDrives(ctx, r.drives.Drives, filepath.Join(l.StateDir, "drives"))
	if err != nil {
		return err
	}
	subset := *r.drives.Topology
	subset.Nodes = slices.DeleteFunc(slices.Clone(subset.Nodes), func(n topology.Node) bool { return !slices.Contains(names, n.Name) })
	drives := map[string]string{}
	for _, n := range names {
		drives[n] = isos[n]
	}
	bi := l.bootInput(&subset, drives)
	bi.Replace = true
	c, err := in.Platform.Boot(ctx, bi)
	if err == nil {
		l.Cluster, l.Boot = c, c.Report()
	}
	if err != nil {
		return fmt.Errorf("booting %s again failed; the other nodes still run; `e2e up` tries again, `e2e down` removes the lab: %w",
			strings.Join(names, ", "), err)
	}
	now := time.Now().UTC()
	for _, d := range r.drives.Drives {
		if !slices.Contains(names, d.Node.Name) {
			continue
		}
		dg, err := Digest(d)
		if err != nil {
			return err
		}
		*rec.Node(d.Node.Name) = NodeRecord{Name: d.Node.Name, UUID: d.Node.UUID, Drive: dg, Booted: now}
	}
	return nil
}
