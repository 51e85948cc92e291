package vm

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/drivelab/drivelab/framework/config"
	"github.com/drivelab/drivelab/framework/topology"
)

// fakeStream stands for QEMU's migration stream after the header.
var fakeStream = bytes.Repeat([]byte("QEVM-state"), 1000)

// fixedVersions are QEMU 7.2's and libvirt 9.0's versions.
type fixedVersions struct{}

func (fixedVersions) ConnectGetVersion() (uint64, error)    { return 7_002_000, nil }
func (fixedVersions) ConnectGetLibVersion() (uint64, error) { return 9_000_000, nil }

// writeFakeSnapshot writes a save image as libvirt lays it out, of the
// domain a snapshot guest of in has, where a boot of in on conn finds it.
func writeFakeSnapshot(t *testing.T, in BootInput, conn versions, s Shape) *Snapshot {
	t.Helper()
	guest := snapshotGuest(in, "qemu", "r0")
	key, err := newSnapshotKey(conn, in.Image, guest("snapshot", s, "disk", "console"))
	if err != nil {
		t.Fatal(err)
	}
	dir := snapshotDir(in.Image, "qemu", s, key)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	sn := &Snapshot{Shape: s, Memory: filepath.Join(dir, "memory.save"), Disk: filepath.Join(dir, "disk.qcow2")}
	if err := os.WriteFile(sn.Disk, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	x, err := guest("dl-r0-snapshot-"+s.String(), s, sn.Disk, filepath.Join(dir, "console.log")).Marshal()
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
	sn := writeFakeSnapshot(t, BootInput{Image: Image{Disk: filepath.Join(t.TempDir(), "disk.qcow2")}}, fixedVersions{}, Shape{VCPUs: 1, MemoryMiB: 2048})
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
	sn := writeFakeSnapshot(t, BootInput{Image: Image{Disk: filepath.Join(t.TempDir(), "disk.qcow2")}}, fixedVersions{}, Shape{VCPUs: 1, MemoryMiB: 1024})
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
	if got := snapshotShape(in, n, limits); got != (Shape{VCPUs: 1, MemoryMiB: 2048}) {
		t.Errorf("snapshot boot: shape %v, want the capped size {1 2048}", got)
	}
	skip := BootInput{Boot: config.BootSnapshot, Image: Image{Kernel: "vmlinuz"}, GateSkip: map[string]string{"web01": "clock"}}
	if got := snapshotShape(skip, n, limits); got != (Shape{VCPUs: 1, MemoryMiB: 2048, Args: "drivelab.gate_skip=clock"}) {
		t.Errorf("a node whose gate skips its clock: shape %v, want a snapshot of its own", got)
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

// A snapshot's key changes with everything that shapes the saved machine,
// and with nothing a run names for itself; a stale one is named with what
// changed.
func TestSnapshotKeyCoversWhatShapesTheMachine(t *testing.T) {
	img := Image{Disk: "/cache/image/debian12-aaaa/disk.qcow2", Kernel: "/cache/image/debian12-aaaa/vmlinuz", Cmdline: "root=/dev/vda"}
	s := Shape{VCPUs: 1, MemoryMiB: 1024}
	key := func(in BootInput, v versions, name, run string) snapshotKey {
		t.Helper()
		k, err := newSnapshotKey(v, in.Image, snapshotGuest(in, "qemu", run)(name, s, "/run/"+run+"/disk", "/run/"+run+"/console"))
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	base := key(BootInput{Image: img}, fixedVersions{}, "snapshot", "r1")
	if other := key(BootInput{Image: img}, fixedVersions{}, "dl-r2-snapshot", "r2"); other.digest() != base.digest() {
		t.Errorf("another run's names and paths changed the key: %+v vs %+v", other, base)
	}
	otherImage := img
	otherImage.Disk = "/cache/image/debian12-bbbb/disk.qcow2"
	otherCmdline := img
	otherCmdline.Cmdline += " quiet"
	for what, k := range map[string]snapshotKey{
		"the image":               key(BootInput{Image: otherImage}, fixedVersions{}, "snapshot", "r1"),
		"the kernel command line": key(BootInput{Image: otherCmdline}, fixedVersions{}, "snapshot", "r1"),
		"QEMU":                    key(BootInput{Image: img}, newerQEMU{}, "snapshot", "r1"),
	} {
		if k.digest() == base.digest() {
			t.Errorf("%s changed, the key did not", what)
		}
		if got := strings.Join(k.changes(base), "; "); !strings.HasPrefix(got, what) && !strings.Contains(got, "; "+what) {
			t.Errorf("%s changed: changes say %q", what, got)
		}
	}
	// The domain definition: a device more, or at another address.
	d := snapshotGuest(BootInput{Image: img}, "qemu", "r1")("snapshot", s, "disk", "console")
	d.Devices.RNGs = nil
	k, err := newSnapshotKey(fixedVersions{}, img, d)
	if err != nil {
		t.Fatal(err)
	}
	if k.digest() == base.digest() || !strings.Contains(strings.Join(k.changes(base), ";"), "the domain definition") {
		t.Errorf("a domain without its RNG has the same key, or says %v", k.changes(base))
	}

	dir := t.TempDir()
	old := filepath.Join(dir, "qemu-1cpu-1024mib-"+base.digest())
	os.MkdirAll(old, 0o755)
	b, _ := json.Marshal(base)
	os.WriteFile(filepath.Join(old, keyFile), b, 0o644)
	otherShape := filepath.Join(dir, "qemu-1cpu-1024mib-0a1b2c3d-"+base.digest()) // the same shape with gate_skip
	os.MkdirAll(otherShape, 0o755)
	newer := key(BootInput{Image: img}, newerQEMU{}, "snapshot", "r1")
	stale, why := staleSnapshots(filepath.Join(dir, "qemu-1cpu-1024mib-"+newer.digest()), newer)
	if !strings.Contains(why, old+" is stale: QEMU (7002001, was 7002000) changed") || !slices.Equal(stale, []string{old}) {
		t.Errorf("stale %v, reason %q; want only %s, QEMU changed", stale, why, old)
	}
	if stale, why := staleSnapshots(old, base); why != "" || len(stale) != 0 {
		t.Errorf("the snapshot itself is stale: %v %q", stale, why)
	}
}

type newerQEMU struct{ fixedVersions }

func (newerQEMU) ConnectGetVersion() (uint64, error) { return 7_002_001, nil }
