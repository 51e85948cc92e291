package vm

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	libvirt "github.com/digitalocean/go-libvirt"
	"libvirt.org/go/libvirtxml"

	"github.com/drivelab/drivelab/framework/atomicfile"
	"github.com/drivelab/drivelab/framework/lockfile"
	"github.com/drivelab/drivelab/framework/wait"
)

// A memory snapshot is a guest of the image saved (libvirt's save image:
// its memory and device state, and its disk overlay) while it waits at the
// image's gate, /usr/libexec/drivelab-gate, just before cloud-init-local:
// kernel, initrd and early userspace already ran, nothing read a drive.
// A node restored from it gets its own disk overlay, domain name and UUID,
// and its config drive and NIC hot-plugged while it is paused; the gate then
// lets cloud-init go on, after giving the node its own clock, random state
// and machine-id. A snapshot fits one guest shape (vCPUs and memory are in
// the saved state) and one accelerator, and lives with the image it came
// from, so a new image never meets an old snapshot.

// The gate's lines: where a snapshot is saved, and which boot it opened for
// (drivelab-gate decides that from whether the NIC was there when it started;
// every boot prints it, and the fault drills strike there).
var (
	gateWaitingRE = regexp.MustCompile(`drivelab-gate: waiting for the config drive`)
	GateOpenRE    = regexp.MustCompile(`drivelab-gate: open \((cold|restored)\b`)
)

// GateSteps are the steps of the gate's restored branch, in order: each
// makes a restored node stop sharing something with its snapshot.
var GateSteps = []string{"clock", "random", "machine-id"}

// GateRecord is where the gate writes what it did, in the guest:
// "path=cold", or "path=restored", "steps=..." and "skipped=..." lines.
const GateRecord = "/run/drivelab-gate"

// Shape is what a snapshot fits: the saved state has this many vCPUs and
// this much memory, and its kernel ran with Args appended to the image's
// command line (BootInput.GateSkip).
type Shape struct {
	VCPUs, MemoryMiB int
	Args             string
}

func (s Shape) String() string {
	if s.Args != "" {
		return fmt.Sprintf("%dcpu-%dmib-%.4x", s.VCPUs, s.MemoryMiB, sha256.Sum256([]byte(s.Args)))
	}
	return fmt.Sprintf("%dcpu-%dmib", s.VCPUs, s.MemoryMiB)
}

// Snapshot is a saved guest of one shape.
type Snapshot struct {
	Shape Shape
	// Memory is libvirt's save image; Disk the overlay it ran on, never
	// written again (nodes get overlays over it).
	Memory, Disk string
	// domain is the domain XML in Memory's header.
	domain *libvirtxml.Domain
}

// snapshotKey is everything that shapes a saved machine. A snapshot is
// found only under its key's digest, so one made by another domain
// definition, QEMU, libvirt, kernel command line or image is never restored:
// a new one is made beside it.
type snapshotKey struct {
	// Domain is the digest of the domain definition the snapshot's guest
	// was made from, its per-run names and paths left out: devices and
	// their addresses, machine type, CPU, vCPUs, memory, kernel, initrd and
	// command line.
	Domain  string `json:"domain"`
	QEMU    uint64 `json:"qemu_version"`
	Libvirt uint64 `json:"libvirt_version"`
	Cmdline string `json:"cmdline"`
	// Image is the image's build folder, named by the hash of its recipe:
	// its packages, drivelab-gate and the rest of its overlay.
	Image string `json:"image"`
}

// versions are the calls that tell libvirt's and QEMU's versions.
type versions interface {
	ConnectGetVersion() (uint64, error)
	ConnectGetLibVersion() (uint64, error)
}

// newSnapshotKey is the key of a snapshot made from domain under conn's
// QEMU and libvirt, over img.
func newSnapshotKey(conn versions, img Image, domain *libvirtxml.Domain) (snapshotKey, error) {
	d := *domain
	d.Name, d.Metadata = "", nil
	devs := *d.Devices
	devs.Disks = slices.Clone(devs.Disks)
	for i := range devs.Disks {
		if f := devs.Disks[i].Source; f != nil && f.File != nil {
			devs.Disks[i].Source = &libvirtxml.DomainDiskSource{File: &libvirtxml.DomainDiskSourceFile{}}
		}
	}
	devs.Serials = slices.Clone(devs.Serials)
	for i := range devs.Serials {
		if l := devs.Serials[i].Log; l != nil {
			devs.Serials[i].Log = &libvirtxml.DomainChardevLog{File: "", Append: l.Append}
		}
	}
	d.Devices = &devs
	x, err := d.Marshal()
	if err != nil {
		return snapshotKey{}, err
	}
	k := snapshotKey{Domain: fmt.Sprintf("%x", sha256.Sum256([]byte(x)))[:16], Image: filepath.Base(filepath.Dir(img.Disk))}
	if d.OS != nil {
		k.Cmdline = d.OS.Cmdline
	}
	if k.QEMU, err = conn.ConnectGetVersion(); err != nil {
		return k, fmt.Errorf("QEMU's version: %w", err)
	}
	if k.Libvirt, err = conn.ConnectGetLibVersion(); err != nil {
		return k, fmt.Errorf("libvirt's version: %w", err)
	}
	return k, nil
}

func (k snapshotKey) digest() string {
	b, _ := json.Marshal(k) // plain fields always marshal
	return fmt.Sprintf("%x", sha256.Sum256(b))[:12]
}

// changes names the parts of k that differ from old.
func (k snapshotKey) changes(old snapshotKey) []string {
	var out []string
	for _, c := range []struct {
		what     string
		now, was any
	}{
		{"the domain definition", k.Domain, old.Domain}, {"QEMU", k.QEMU, old.QEMU}, {"libvirt", k.Libvirt, old.Libvirt},
		{"the kernel command line", k.Cmdline, old.Cmdline}, {"the image", k.Image, old.Image},
	} {
		if c.now != c.was {
			out = append(out, fmt.Sprintf("%s (%v, was %v)", c.what, c.now, c.was))
		}
	}
	return out
}

// keyFile records a snapshot's key in its folder, to say why a later one differs.
const keyFile = "key.json"

// snapshotDir is where the image's snapshot of shape under accel and key lives.
func snapshotDir(img Image, accel string, s Shape, key snapshotKey) string {
	return filepath.Join(filepath.Dir(img.Disk), "snapshots", accel+"-"+s.String()+"-"+key.digest())
}

// staleSnapshots are the snapshots of the same shape beside dir that do
// not fit key, and why: the parts of the newest one's key that changed.
func staleSnapshots(dir string, key snapshotKey) (stale []string, why string) {
	prefix := strings.TrimSuffix(dir, key.digest())
	siblings, _ := filepath.Glob(prefix + "*")
	var newest time.Time
	for _, d := range siblings {
		// Only this shape's: another shape's name goes on past the prefix.
		if d == dir || len(d) != len(dir) || strings.Contains(strings.TrimPrefix(d, prefix), "-") || strings.HasSuffix(d, ".lock") {
			continue
		}
		stale = append(stale, d)
		st, err := os.Stat(filepath.Join(d, keyFile))
		b, rerr := os.ReadFile(filepath.Join(d, keyFile))
		var old snapshotKey
		if err != nil || rerr != nil || json.Unmarshal(b, &old) != nil || !st.ModTime().After(newest) {
			continue
		}
		newest, why = st.ModTime(), fmt.Sprintf("%s is stale: %s changed", d, strings.Join(key.changes(old), ", "))
	}
	return stale, why
}

// snapshotInput is what making or finding snapshots needs.
type snapshotInput struct {
	conn      Libvirt
	run       string
	img       Image
	accel     string
	wait      time.Duration // for a snapshot's guest to reach the gate
	poll      time.Duration
	out       *reporter
	domainFor func(name string, s Shape, disk, console string) *libvirtxml.Domain
}

// key is the key of shape s's snapshot.
func (in snapshotInput) key(s Shape) (snapshotKey, error) {
	return newSnapshotKey(in.conn, in.img, in.domainFor("snapshot", s, "disk", "console"))
}

// ensureSnapshots returns a snapshot for every shape, making those the
// image does not have yet, all at once. Concurrent runs make each only once.
func ensureSnapshots(ctx context.Context, in snapshotInput, shapes []Shape) (map[Shape]*Snapshot, error) {
	var (
		mu   sync.Mutex
		wg   sync.WaitGroup
		errs []error
		snap = map[Shape]*Snapshot{}
	)
	for _, s := range shapes {
		wg.Go(func() {
			sn, err := ensureSnapshot(ctx, in, s)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, fmt.Errorf("memory snapshot %s: %w (E2E_BOOT=cold boots without one)", s, err))
				return
			}
			snap[s] = sn
		})
	}
	wg.Wait()
	return snap, errors.Join(errs...)
}

func ensureSnapshot(ctx context.Context, in snapshotInput, s Shape) (*Snapshot, error) {
	key, err := in.key(s)
	if err != nil {
		return nil, err
	}
	dir := snapshotDir(in.img, in.accel, s, key)
	unlock, err := lockfile.Lock(ctx, dir+".lock", func() {
		in.out.printf("vm: snapshot %s: another run is making it; waiting", s)
	})
	if err != nil {
		return nil, err
	}
	defer unlock()
	sn := &Snapshot{Shape: s, Memory: filepath.Join(dir, "memory.save"), Disk: filepath.Join(dir, "disk.qcow2")}
	if _, err := os.Stat(sn.Memory); err == nil {
		return sn, sn.load()
	}
	stale, why := staleSnapshots(dir, key)
	if why != "" {
		in.out.printf("vm: snapshot %s: %s; making a new one", s, why)
	}
	started := time.Now()
	if err := makeSnapshot(ctx, in, s, dir, key); err != nil {
		return nil, err
	}
	in.out.printf("vm: snapshot %s made in %.1fs: %s", s, time.Since(started).Seconds(), dir)
	// A stale snapshot is never restored again; a node still running on
	// one keeps its disk open, so removing it takes nothing from it.
	for _, d := range stale {
		if err := errors.Join(os.RemoveAll(d), os.Remove(d+".lock")); err != nil && !errors.Is(err, os.ErrNotExist) {
			in.out.printf("vm: snapshot %s: could not remove the stale %s: %v", s, d, err)
		}
	}
	return sn, sn.load()
}

// makeSnapshot boots a guest of shape s with neither drive nor NIC, saves
// it once the gate waits, and moves the result into dir in one rename.
func makeSnapshot(ctx context.Context, in snapshotInput, s Shape, dir string, key snapshotKey) (err error) {
	tmp := dir + ".new"
	if err := os.RemoveAll(tmp); err != nil {
		return err
	}
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return err
	}
	defer func() {
		if err != nil {
			os.RemoveAll(tmp)
		}
	}()
	// The disk keeps its final path: the saved state and the nodes'
	// overlays name it.
	disk := filepath.Join(dir, "disk.qcow2")
	if out, err := exec.CommandContext(ctx, "qemu-img", "create", "-q", "-f", "qcow2", "-b", in.img.Disk, "-F", "qcow2",
		filepath.Join(tmp, "disk.qcow2")).CombinedOutput(); err != nil {
		return fmt.Errorf("qemu-img create: %v: %s", err, bytes.TrimSpace(out))
	}
	// While it runs, the disk sits at its final path; dir holds nothing else yet.
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := os.Rename(filepath.Join(tmp, "disk.qcow2"), disk); err != nil {
		return err
	}
	defer func() {
		if err != nil {
			os.Remove(disk)
		}
	}()
	name := DomainName(in.run, "snapshot-"+s.String())
	console := filepath.Join(tmp, "console.log")
	x, err := in.domainFor(name, s, disk, console).Marshal()
	if err != nil {
		return err
	}
	dom, err := in.conn.DomainDefineXML(x)
	if err != nil {
		return fmt.Errorf("defining %s: %w", name, err)
	}
	defer func() {
		in.conn.DomainDestroy(dom) // already gone once saved
		if uerr := in.conn.DomainUndefineFlags(dom, 0); uerr != nil && !isNotFound(uerr) && err == nil {
			err = uerr
		}
	}()
	if err := in.conn.DomainCreate(dom); err != nil {
		return fmt.Errorf("starting %s: %w", name, err)
	}
	if err := waitForGate(ctx, in, dom, console); err != nil {
		return err
	}
	memory := filepath.Join(tmp, "memory.save")
	if err := in.conn.DomainSaveFlags(dom, memory, nil, 0); err != nil {
		return fmt.Errorf("saving %s: %w", name, err)
	}
	k, _ := json.MarshalIndent(key, "", "  ") // plain fields always marshal
	if err := atomicfile.Write(filepath.Join(dir, keyFile), append(k, '\n'), 0o644); err != nil {
		return err
	}
	// The save image comes last: its presence says the snapshot is whole.
	if err := os.Rename(memory, filepath.Join(dir, "memory.save")); err != nil {
		return err
	}
	os.Rename(console, filepath.Join(dir, "console.log"))
	return os.RemoveAll(tmp)
}

// waitForGate follows the snapshot guest's console until the gate waits.
func waitForGate(ctx context.Context, in snapshotInput, dom libvirt.Domain, path string) error {
	con := &console{path: path}
	deadline := time.Now().Add(in.wait)
	return wait.Until(ctx, wait.Input{What: "the snapshot's guest to reach the gate", Interval: in.poll}, func(context.Context) (bool, string, error) {
		if err := con.readAt(time.Now()); err != nil {
			return false, "", err
		}
		if con.gate {
			return true, "", nil
		}
		if f := con.fault; f != nil {
			return false, "", fmt.Errorf("guest fault (%s) on the console: %q; console: %s", f.Kind, f.Line, path)
		}
		if st, _, err := in.conn.DomainGetState(dom, 0); err != nil || libvirt.DomainState(st) != libvirt.DomainRunning {
			return false, "", fmt.Errorf("the snapshot's guest stopped before the gate (state %d, %v); console: %s", st, err, path)
		}
		if time.Now().After(deadline) {
			return false, "", fmt.Errorf("the gate did not wait within %s; is drivelab-gate in the image? last console line %q (%s)", in.wait, con.lastLine(), path)
		}
		return false, fmt.Sprintf("last console line %q", con.lastLine()), nil
	})
}

// The header of libvirt's QEMU save image (src/qemu/qemu_saveimage.h):
// magic, then version, data_len, was_running, compressed, cookieOffset and
// 14 unused uint32, little endian; data_len bytes of domain XML, NUL,
// cookie, NUL padding; then QEMU's migration stream.
const saveMagic = "LibvirtQemudSave"

type saveHeader struct {
	Version, DataLen, WasRunning, Compressed, CookieOffset uint32
	Unused                                                 [14]uint32
}

// readSaveImage reads a save image's header and its XML and cookie.
func readSaveImage(r io.Reader) (h saveHeader, xml, cookie []byte, err error) {
	magic := make([]byte, len(saveMagic))
	if _, err = io.ReadFull(r, magic); err != nil {
		return h, nil, nil, err
	}
	if string(magic) != saveMagic {
		return h, nil, nil, fmt.Errorf("not a libvirt QEMU save image (magic %q)", magic)
	}
	if err = binary.Read(r, binary.LittleEndian, &h); err != nil {
		return h, nil, nil, err
	}
	if h.Version != 2 || h.Compressed != 0 {
		return h, nil, nil, fmt.Errorf("save image version %d, compression %d: want version 2, uncompressed", h.Version, h.Compressed)
	}
	data := make([]byte, h.DataLen)
	if _, err = io.ReadFull(r, data); err != nil {
		return h, nil, nil, err
	}
	xml, _, _ = bytes.Cut(data, []byte{0})
	if h.CookieOffset != 0 && int(h.CookieOffset) < len(data) {
		cookie, _, _ = bytes.Cut(data[h.CookieOffset:], []byte{0})
	}
	return h, xml, cookie, nil
}

// open opens the snapshot's save image and reads its header; the file is
// left at the saved state.
func (s *Snapshot) open() (f *os.File, h saveHeader, xml, cookie []byte, err error) {
	if f, err = os.Open(s.Memory); err != nil {
		return nil, h, nil, nil, err
	}
	if h, xml, cookie, err = readSaveImage(f); err != nil {
		f.Close()
		return nil, h, nil, nil, fmt.Errorf("%s: %w", s.Memory, err)
	}
	return f, h, xml, cookie, nil
}

// load reads the snapshot's domain XML from its save image.
func (s *Snapshot) load() error {
	f, _, x, _, err := s.open()
	if err != nil {
		return err
	}
	f.Close()
	s.domain = &libvirtxml.Domain{}
	if err := s.domain.Unmarshal(string(x)); err != nil {
		return fmt.Errorf("%s: its domain XML: %w", s.Memory, err)
	}
	return nil
}

// nodeDomain is the snapshot's saved domain as node's: libvirt restores a
// save image only as the domain its header names, so every node gets its
// own name, UUID, owner, disk and console log there.
func (s *Snapshot) nodeDomain(name string, owner Owner, disk, console string) (*libvirtxml.Domain, error) {
	x, err := s.domain.Marshal()
	if err != nil {
		return nil, err
	}
	d := &libvirtxml.Domain{}
	if err := d.Unmarshal(x); err != nil {
		return nil, err
	}
	d.Name, d.ID = name, nil
	if d.UUID, err = NewUUID(); err != nil {
		return nil, err
	}
	d.Metadata = Spec{Owner: owner}.Domain().Metadata
	root := slices.IndexFunc(d.Devices.Disks, func(k libvirtxml.DomainDisk) bool { return k.Device == "disk" })
	tray := slices.IndexFunc(d.Devices.Disks, func(k libvirtxml.DomainDisk) bool {
		return k.Device == "cdrom" && (k.Source == nil || k.Source.File == nil || k.Source.File.File == "")
	})
	if root < 0 || tray < 0 || len(d.Devices.Interfaces) != 0 || len(d.Devices.Serials) != 1 || d.Devices.Serials[0].Log == nil {
		return nil, fmt.Errorf("%s: expected a root disk, an empty CD-ROM drive, no NIC and one logged serial port in its domain", s.Memory)
	}
	d.Devices.Disks[root].Source.File.File = disk
	d.Devices.Serials[0].Log.File = console
	return d, nil
}

// writeNodeImage writes the snapshot's save image for one node: its own
// domain XML in the header, then the snapshot's state unchanged.
func (s *Snapshot) writeNodeImage(path string, dom *libvirtxml.Domain) (err error) {
	x, err := dom.Marshal()
	if err != nil {
		return err
	}
	src, h, _, cookie, err := s.open()
	if err != nil {
		return err
	}
	defer src.Close()
	data := append([]byte(x), 0)
	if h.CookieOffset != 0 {
		h.CookieOffset = uint32(len(data))
		data = append(append(data, cookie...), 0)
	}
	if len(data) > int(h.DataLen) {
		return fmt.Errorf("%s: node %s's domain XML (%d bytes) does not fit the header's %d", s.Memory, dom.Name, len(data), h.DataLen)
	}
	data = append(data, make([]byte, int(h.DataLen)-len(data))...)
	dst, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := dst.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			os.Remove(path)
		}
	}()
	if _, err := dst.WriteString(saveMagic); err != nil {
		return err
	}
	if err := binary.Write(dst, binary.LittleEndian, h); err != nil {
		return err
	}
	if _, err := dst.Write(data); err != nil {
		return err
	}
	_, err = io.Copy(dst, src)
	return err
}

// NewUUID is a random (version 4) uuid: a restored node's domain, a kept
// node's new instance.
func NewUUID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:]), nil
}
