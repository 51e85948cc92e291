package harness

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/drivelab/drivelab/framework/config"
	"github.com/drivelab/drivelab/framework/runid"
	"github.com/drivelab/drivelab/framework/topology"
	"github.com/drivelab/drivelab/framework/vm"
)

func testPaths(t *testing.T) config.Paths {
	t.Helper()
	dir := t.TempDir()
	return config.Paths{State: filepath.Join(dir, "state"), Artifacts: filepath.Join(dir, "artifacts")}
}

func sampleRecord(run runid.ID, page string) *Record {
	at := time.Date(2026, 11, 24, 17, 0, 0, 0, time.UTC)
	return &Record{
		Run: run, Scenario: "loadbalancer", Topology: "/repo/fixtures/topology.yaml", Flavor: "debian12",
		Templates: "/repo/fixtures/templates", Overlay: "/tmp/overlay", PackageDir: "/cache/packages",
		Image:     vm.Image{Disk: "/cache/disk.qcow2", Kernel: "/cache/vmlinuz", Initrd: "/cache/initrd.img", Cmdline: "root=/dev/vda"},
		Artifacts: "/repo/artifacts/" + run.String(), Created: at, Updated: at.Add(time.Minute),
		Nodes: []NodeRecord{
			{Name: "test2", UUID: "9478337b-b970-4cfe-ad07-53c8b99c831d", Booted: at,
				Drive: DriveDigest{Digest: "d1", Files: map[string]string{"openstack/latest/meta_data.json": "aa"}}},
			{Name: "web01", UUID: "282101d0-4eea-4430-a928-5a7976283898", Booted: at,
				Drive: DriveDigest{Digest: "d2", Files: map[string]string{"openstack/content/0002": page}}},
		},
	}
}

func TestRecordRoundTrip(t *testing.T) {
	paths := testPaths(t)
	want := sampleRecord("20261124-170000-ab12", "bb")
	if err := want.Save(paths); err != nil {
		t.Fatal(err)
	}
	got, err := LoadRecord(paths, want.Run)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("read back\n%+v\nwant\n%+v", got, want)
	}
	if _, err := LoadRecord(paths, "other"); !errors.Is(err, ErrNoLab) || !strings.Contains(err.Error(), "e2e down --run other") {
		t.Errorf("missing record: %v", err)
	}
	if err := os.WriteFile(filepath.Join(RunDir(paths, want.Run), RecordFile), []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadRecord(paths, want.Run); err == nil || !strings.Contains(err.Error(), RecordFile) {
		t.Errorf("broken record: %v, want an error naming the file", err)
	}
}

// Save replaces the file by rename: a reader that opened the old record
// reads it whole, and no temporary file is left. Writing in place would
// show the reader a truncated or mixed file.
func TestRecordSaveIsAtomic(t *testing.T) {
	paths := testPaths(t)
	old := sampleRecord("r1", "old")
	if err := old.Save(paths); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(RunDir(paths, "r1"), RecordFile)
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	reader, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close()

	if err := sampleRecord("r1", strings.Repeat("new", 1000)).Save(paths); err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(reader)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Errorf("a reader of the old record saw %d bytes of something else:\n%.200s", len(got), got)
	}
	entries, err := os.ReadDir(RunDir(paths, "r1"))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Name() != RecordFile {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("run dir holds %v, want only %s", names, RecordFile)
	}
	now, err := LoadRecord(paths, "r1")
	if err != nil || now.Nodes[1].Drive.Files["openstack/content/0002"] != strings.Repeat("new", 1000) {
		t.Errorf("new record not in place: %v", err)
	}
}

func TestCurrentLab(t *testing.T) {
	paths := testPaths(t)
	if _, err := CurrentRun(paths); !errors.Is(err, ErrNoLab) || !strings.Contains(err.Error(), "e2e up") {
		t.Errorf("no lab: %v", err)
	}
	for _, run := range []runid.ID{"r1", "r2"} {
		if err := sampleRecord(run, "x").Save(paths); err != nil {
			t.Fatal(err)
		}
	}
	if err := SetCurrent(paths, "r1"); err != nil {
		t.Fatal(err)
	}
	rec, err := LoadCurrent(paths)
	if err != nil || rec.Run != "r1" {
		t.Fatalf("LoadCurrent: %v, %v", rec, err)
	}
	// Forgetting another run leaves the kept lab alone.
	if err := Forget(paths, "r2"); err != nil {
		t.Fatal(err)
	}
	if run, err := CurrentRun(paths); err != nil || run != "r1" {
		t.Errorf("after forgetting r2: current %q, %v", run, err)
	}
	if _, err := os.Stat(RunDir(paths, "r2")); !os.IsNotExist(err) {
		t.Errorf("r2's state is still there: %v", err)
	}
	if err := Forget(paths, "r1"); err != nil {
		t.Fatal(err)
	}
	if _, err := CurrentRun(paths); !errors.Is(err, ErrNoLab) {
		t.Errorf("after forgetting r1: %v, want no lab", err)
	}
	if err := os.WriteFile(filepath.Join(paths.State, currentFile), []byte("../etc\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := CurrentRun(paths); err == nil || !strings.Contains(err.Error(), "does not hold a run id") {
		t.Errorf("a path in current: %v", err)
	}
}

func TestEffectiveTopologyUsesTheUUIDsInUse(t *testing.T) {
	topo, err := topology.Load("../../fixtures/topology.yaml")
	if err != nil {
		t.Fatal(err)
	}
	web01 := topo.Nodes[2]
	rec := &Record{Nodes: []NodeRecord{{Name: "web01", UUID: "11111111-2222-4333-8444-555555555555"}}}
	eff := rec.Effective(topo)
	if n, _ := eff.Node("web01"); n.UUID != "11111111-2222-4333-8444-555555555555" {
		t.Errorf("effective web01 uuid %s", n.UUID)
	}
	if n, _ := eff.Node("web02"); n.UUID != topo.Nodes[3].UUID {
		t.Errorf("web02 changed: %s", n.UUID)
	}
	if !reflect.DeepEqual(topo.Nodes[2], web01) {
		t.Error("Effective changed the topology it was given")
	}

	rec = &Record{Run: "r1"}
	for _, n := range topo.Nodes[:3] {
		rec.Nodes = append(rec.Nodes, NodeRecord{Name: n.Name})
	}
	if err := rec.SameNodes(topo); err == nil || !strings.Contains(err.Error(), "now lists nodes test2, haproxy, web01, web02, the kept lab r1 runs test2, haproxy, web01") {
		t.Errorf("SameNodes: %v", err)
	}
}
