package vm

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/drivelab/drivelab/framework/config"
	"github.com/drivelab/drivelab/framework/topology"
)

// fakeStream stands for QEMU's migration stream after the header.
var fakeStream = bytes.Repeat([]byte("QEVM-state"), 1000)

// writeFakeSnapshot writes a save image as libvirt lays it out, of the
// domain a snapshot guest has, under img's snapshot folder for shape.
func writeFakeSnapshot(t *testing.T, img Image, s Shape) *Snapshot {
	t.Helper()
	dir := snapshotDir(img, "qemu", s)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	sn := &Snapshot{Shape: s, Memory: filepath.Join(dir, "memory.save"), Disk: filepath.Join(dir, "disk.qcow2")}
	if err := os.WriteFile(sn.Disk, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	x, err := New(WithName("dl-r0-snapshot-"+s.String()), WithVCPUs(s.VCPUs), WithMemoryMiB(s.MemoryMiB),
		WithDisk(sn.Disk), WithSerialLog(filepath.Join(dir, "console.log")), WithOwner(Owner{Run: "r0", Node: "snapshot"})).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	cookie := []byte("<cookie><cpu mode='custom'/></cookie>")
	data := append(append(append([]byte(x), 0), cookie...), 0)
	h := saveHeader{Version: 2, DataLen: uint32(len(data) + 4096), WasRunning: 1, CookieOffset: uint32(len(x) + 1)}
	var b bytes.Buffer
	b.WriteString(saveMagic)
	binary.Write(&b, binary.LittleEndian, h)
	b.Write(data)
	b.Write(make([]byte, 4096))
	b.Write(fakeStream)
	if err := os.WriteFile(sn.Memory, b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := sn.load(); err != nil {
		t.Fatal(err)
	}
	return sn
}

// A node's save image carries the node's domain (name, UUID, owner, disk,
// console) and the cookie, and the snapshot's state byte for byte: libvirt
// restores an image only as the domain its header names.
func TestNodeImageIsTheSnapshotAsTheNode(t *testing.T) {
	img := Image{Disk: filepath.Join(t.TempDir(), "disk.qcow2")}
	sn := writeFakeSnapshot(t, img, Shape{1, 2048})
	owner := Owner{Run: "r1", Node: "web01"}
	d, err := sn.nodeDomain("dl-r1-web01", owner, "/pool/web01.qcow2", "/art/web01.console.log")
	if err != nil {
		t.Fatal(err)
	}
	other, err := sn.nodeDomain("dl-r1-web02", owner, "/pool/web02.qcow2", "/art/web02.console.log")
	if err != nil {
		t.Fatal(err)
	}
	if d.UUID == "" || d.UUID == other.UUID {
		t.Errorf("UUIDs %q and %q: want one of its own per node", d.UUID, other.UUID)
	}
	path := filepath.Join(t.TempDir(), "web01.save")
	if err := sn.writeNodeImage(path, d); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h, x, cookie, err := readSaveImage(f)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"<name>dl-r1-web01</name>", "<uuid>" + d.UUID + "</uuid>", "/pool/web01.qcow2", "/art/web01.console.log", "<node>web01</node>"} {
		if !strings.Contains(string(x), want) {
			t.Errorf("header XML lacks %s:\n%s", want, x)
		}
	}
	if strings.Contains(string(x), "snapshot") {
		t.Errorf("header XML still names the snapshot guest:\n%s", x)
	}
	if string(cookie) != "<cookie><cpu mode='custom'/></cookie>" || h.WasRunning != 1 {
		t.Errorf("cookie %q, was_running %d: want the snapshot's", cookie, h.WasRunning)
	}
	rest := new(bytes.Buffer)
	rest.ReadFrom(f)
	if !bytes.Equal(rest.Bytes(), fakeStream) {
		t.Errorf("the state after the header changed (%d bytes, want %d)", rest.Len(), len(fakeStream))
	}
}

func TestNodeImageRefusesWhatIsNotASaveImage(t *testing.T) {
	img := Image{Disk: filepath.Join(t.TempDir(), "disk.qcow2")}
	sn := writeFakeSnapshot(t, img, Shape{1, 1024})
	d, err := sn.nodeDomain("dl-r1-test2", Owner{Run: "r1", Node: "test2"}, "/d", "/c")
	if err != nil {
		t.Fatal(err)
	}
	d.Description = strings.Repeat("x", 10000) // more than the header has room for
	if err := sn.writeNodeImage(filepath.Join(t.TempDir(), "a.save"), d); err == nil || !strings.Contains(err.Error(), "does not fit") {
		t.Errorf("an XML too big for the header: %v, want it refused", err)
	}
	if err := os.WriteFile(sn.Memory, []byte("QFI\xfb not a save image"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := sn.load(); err == nil || !strings.Contains(err.Error(), "not a libvirt QEMU save image") {
		t.Errorf("load of a qcow2 = %v, want it refused", err)
	}
}

// Only snapshot boots restore, and never a node the drills give kernel
// arguments to (a restored kernel never reads them).
func TestSnapshotShape(t *testing.T) {
	n := topology.Node{Name: "web01", VCPUs: 2, MemoryMiB: 2048}
	in := BootInput{Boot: config.BootSnapshot, Image: Image{Kernel: "vmlinuz"}}
	limits := Limits{MaxVCPUs: 1}
	if got := snapshotShape(in, n, limits); got != (Shape{1, 2048}) {
		t.Errorf("snapshot boot: shape %v, want the capped size {1 2048}", got)
	}
	for name, in := range map[string]BootInput{
		"cold":        {Boot: config.BootCold, Image: Image{Kernel: "vmlinuz"}},
		"unset":       {Image: Image{Kernel: "vmlinuz"}},
		"kernel args": {Boot: config.BootSnapshot, Image: Image{Kernel: "vmlinuz"}, KernelArgs: map[string]string{"web01": "panic=1"}},
		"own disk":    {Boot: config.BootSnapshot},
	} {
		if got := snapshotShape(in, n, limits); got != (Shape{}) {
			t.Errorf("%s: shape %v, want a cold boot", name, got)
		}
	}
}

func TestNewUUID(t *testing.T) {
	v4 := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	a, err := NewUUID()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := NewUUID()
	if !v4.MatchString(a) || !v4.MatchString(b) || a == b {
		t.Errorf("uuids %q, %q: want two different version 4 uuids", a, b)
	}
}
