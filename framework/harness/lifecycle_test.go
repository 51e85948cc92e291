package harness

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	libvirt "github.com/digitalocean/go-libvirt"

	"github.com/drivelab/drivelab/framework/config"
	"github.com/drivelab/drivelab/framework/vm"
	"github.com/drivelab/drivelab/framework/vm/vmtest"
)

// keptFake is a kept lab whose every node runs in an in-memory libvirt,
// recorded as booted from the drives its templates render now.
func keptFake(t *testing.T) (KeepInput, *Record, *vmtest.Libvirt) {
	t.Helper()
	in := newLabInput(t)
	paths := testPaths(t)
	const run = "r1"
	access, err := LoadOrCreateAccess(filepath.Join(RunDir(paths, run), "keys"), in.topo)
	if err != nil {
		t.Fatal(err)
	}
	in.access = access
	f := vmtest.New()
	rec := &Record{Run: run, Artifacts: t.TempDir()}
	for _, d := range in.render(t, in.topo) {
		dg, err := Digest(d)
		if err != nil {
			t.Fatal(err)
		}
		rec.Nodes = append(rec.Nodes, NodeRecord{Name: d.Node.Name, UUID: d.Node.UUID, Drive: dg})
		x, err := vm.New(vm.WithName(vm.DomainName(run, d.Node.Name)), vm.WithMetadata(run, d.Node.Name)).Marshal()
		if err == nil {
			var dom libvirt.Domain
			if dom, err = f.DomainDefineXML(x); err == nil {
				err = f.DomainCreate(dom)
			}
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	iv := config.DefaultIntervals(config.AccelTCG)
	iv.SSH, iv.Command, iv.Poll = time.Millisecond, time.Millisecond, time.Millisecond
	ki := KeepInput{UpInput: UpInput{
		RunID: run, Topology: in.topo, TemplatesDir: templatesDir, Flavor: "debian12", Overlay: in.overlay,
		PackageDir: in.packages, Platform: &Libvirt{Conn: f, Paths: paths, Intervals: iv}, Paths: paths, Intervals: iv,
	}}
	return ki, rec, f
}

// mutations are the calls that changed the fake since the lab was set up.
func mutations(f *vmtest.Libvirt, setup int) []string { return f.Calls()[setup:] }

// Attach boots nothing: a stopped domain is reported by node and state.
func TestAttachReportsAStoppedDomain(t *testing.T) {
	in, rec, f := keptFake(t)
	f.SetState(rec.Run.Domain("web01"), libvirt.DomainShutoff)
	setup := len(f.Calls())
	_, changes, err := Attach(context.Background(), in, rec)
	if err == nil || !strings.Contains(err.Error(), "web01 (domain shut off) not running") {
		t.Fatalf("Attach = %v, want web01 reported as shut off", err)
	}
	if len(changes) != 1 || changes[0].Node != "web01" {
		t.Errorf("changes %+v, want web01's alone", changes)
	}
	if m := mutations(f, setup); len(m) > 0 {
		t.Errorf("Attach changed libvirt: %v", m)
	}
}

// Update with nothing changed touches no domain and no volume, and keeps
// every node's uuid; it then connects (and here fails: no guest answers).
func TestUpdateWithNothingChangedTouchesNothing(t *testing.T) {
	in, rec, f := keptFake(t)
	was := slices.Clone(rec.Nodes)
	setup := len(f.Calls())
	_, changes, err := Update(context.Background(), in, rec)
	if len(changes) != 0 {
		t.Errorf("changes %+v for an unchanged lab", changes)
	}
	if err == nil {
		t.Error("Update connected to guests that do not exist")
	}
	if m := mutations(f, setup); len(m) > 0 {
		t.Errorf("Update with nothing changed changed libvirt: %v", m)
	}
	for i, n := range rec.Nodes {
		if n.UUID != was[i].UUID || n.Drive.Digest != was[i].Drive.Digest {
			t.Errorf("%s: record changed from %+v to %+v", n.Name, was[i], n)
		}
	}
}

// A changed template re-plans the node it fills and no other.
func TestPlanKeptReplansOnlyTheChangedNode(t *testing.T) {
	in, rec, _ := keptFake(t)
	write(t, filepath.Join(in.Overlay, "nodes", "web02", "index.html.tmpl"), "web02 changed\n")
	p, err := planKept(context.Background(), in, rec)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range p.changes {
		got = append(got, c.Node)
	}
	if !slices.Equal(got, []string{"web02"}) {
		t.Errorf("plan reboots %v, want [web02]", got)
	}
}
