package vm

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"libvirt.org/go/libvirtxml"

	"github.com/drivelab/drivelab/framework/runid"
)

// roundTrip marshals a domain and parses it back, as libvirt would read it.
func roundTrip(t *testing.T, d *libvirtxml.Domain) (*libvirtxml.Domain, string) {
	t.Helper()
	x, err := d.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	var back libvirtxml.Domain
	if err := back.Unmarshal(x); err != nil {
		t.Fatalf("%v\n%s", err, x)
	}
	return &back, x
}

func TestNewBuildsTheNodeDomain(t *testing.T) {
	d, x := roundTrip(t, New(
		WithName("dl-r1-web01"),
		WithDomainType(DomainQEMU),
		WithVCPUs(2),
		WithMemoryMiB(2048),
		WithDisk("/pool/dl-r1-web01.qcow2"),
		WithConfigDrive("/pool/dl-r1-web01-config.iso"),
		WithNIC("52:54:00:64:00:1b", "br0"),
		WithKernel("/cache/vmlinuz", "/cache/initrd.img", "root=/dev/vda console=ttyS0"),
		WithSerialLog("/art/dl-r1-web01.console.log"),
		WithMetadata("r1", "web01"),
	))
	check := func(what string, got, want any) {
		t.Helper()
		if got != want {
			t.Errorf("%s = %v, want %v\n%s", what, got, want, x)
		}
	}
	check("type", d.Type, "qemu")
	check("name", d.Name, "dl-r1-web01")
	check("vcpus", d.VCPU.Value, uint(2))
	check("memory", d.Memory.Value, uint(2048))
	check("memory unit", d.Memory.Unit, "MiB")
	check("machine", d.OS.Type.Machine, "pc")
	check("kernel", d.OS.Kernel, "/cache/vmlinuz")
	check("initrd", d.OS.Initrd, "/cache/initrd.img")
	check("cmdline", d.OS.Cmdline, "root=/dev/vda console=ttyS0")
	check("boot devices", len(d.OS.BootDevices), 0)
	check("cpu", d.CPU == nil, true)

	if len(d.Devices.Disks) != 2 {
		t.Fatalf("%d disks, want root disk and config drive\n%s", len(d.Devices.Disks), x)
	}
	root, cd := d.Devices.Disks[0], d.Devices.Disks[1]
	check("root device", root.Device, "disk")
	check("root file", root.Source.File.File, "/pool/dl-r1-web01.qcow2")
	check("root format", root.Driver.Type, "qcow2")
	check("root target", root.Target.Dev+"/"+root.Target.Bus, "vda/virtio")
	check("root read-only", root.ReadOnly == nil, true)
	check("drive device", cd.Device, "cdrom")
	check("drive file", cd.Source.File.File, "/pool/dl-r1-web01-config.iso")
	check("drive format", cd.Driver.Type, "raw")
	check("drive target", cd.Target.Dev+"/"+cd.Target.Bus, "hdc/ide")
	check("drive read-only", cd.ReadOnly != nil, true)

	if len(d.Devices.Interfaces) != 1 {
		t.Fatalf("%d NICs, want 1", len(d.Devices.Interfaces))
	}
	nic := d.Devices.Interfaces[0]
	check("mac", nic.MAC.Address, "52:54:00:64:00:1b")
	check("bridge", nic.Source.Bridge.Bridge, "br0")
	check("nic model", nic.Model.Type, "virtio")
	check("user-mode NIC", nic.Source.User == nil, true)

	if len(d.Devices.Serials) != 1 || d.Devices.Serials[0].Log == nil {
		t.Fatalf("want one serial port with a log\n%s", x)
	}
	check("serial log", d.Devices.Serials[0].Log.File, "/art/dl-r1-web01.console.log")
	check("graphics", len(d.Devices.Graphics), 0)

	o, err := ownerOf(strings.ReplaceAll(d.Metadata.XML, ` xmlns="urn:drivelab:harness"`, ""))
	if err != nil {
		t.Fatal(err)
	}
	check("owner", o, Owner{Run: "r1", Node: "web01"})
	if !strings.Contains(x, `<owner xmlns="urn:drivelab:harness">`) {
		t.Errorf("metadata element is not in the harness namespace:\n%s", x)
	}
}

func TestNewDefaultsAndVariants(t *testing.T) {
	d, x := roundTrip(t, New(WithName("n"), WithDisk("/d.qcow2")))
	if d.Type != DomainQEMU || d.VCPU.Value != 1 || d.Memory.Value != 1024 {
		t.Errorf("defaults: type %s, %d vCPUs, %d MiB\n%s", d.Type, d.VCPU.Value, d.Memory.Value, x)
	}
	if len(d.OS.BootDevices) != 1 || d.OS.BootDevices[0].Dev != "hd" || d.OS.Kernel != "" {
		t.Errorf("without a kernel the disk must boot\n%s", x)
	}
	if d.Metadata != nil || len(d.Devices.Interfaces) != 0 {
		t.Errorf("options not given leave no metadata or NIC\n%s", x)
	}
	d, x = roundTrip(t, New(WithDomainType(DomainKVM)))
	if d.Type != "kvm" || d.CPU == nil || d.CPU.Mode != "host-passthrough" {
		t.Errorf("kvm domain: want host-passthrough CPU\n%s", x)
	}
}

func TestOwnerOfRejectsForeignMetadata(t *testing.T) {
	for _, md := range []string{
		"",
		"<owner><run>r1</run></owner>",
		"<instance><run>r1</run><node>web01</node></instance>",
		"not xml",
	} {
		if o, err := ownerOf(md); err == nil {
			t.Errorf("ownerOf(%q) = %+v, want an error", md, o)
		}
	}
}

func TestNames(t *testing.T) {
	if got := DomainName("20261124-1", "web01"); got != "dl-20261124-1-web01" {
		t.Errorf("DomainName = %s", got)
	}
	for _, v := range volumes("r", "n") {
		if !strings.HasPrefix(v, "dl-r-n") {
			t.Errorf("volume %s lacks the run prefix", v)
		}
	}
	if err := checkRunID(runid.New().String()); err != nil {
		t.Error(err)
	}
	for _, bad := range []string{"", "Run", "-x", "a b", "a/b", strings.Repeat("a", 25)} {
		if checkRunID(bad) == nil {
			t.Errorf("run id %q accepted", bad)
		}
	}
}

func TestProcessOwnerAlive(t *testing.T) {
	o := ProcessOwner("r1", "web01")
	if o.PID != os.Getpid() || o.Boot == "" || o.PIDStart == 0 {
		t.Fatalf("owner %+v", o)
	}
	if !o.Alive() {
		t.Fatal("this process is not alive by its own mark")
	}
	for name, dead := range map[string]Owner{
		"older harness, no pid": {Run: "r1", Node: "web01"},
		"pid reused":            {Run: "r1", Node: "web01", PID: o.PID, PIDStart: o.PIDStart + 1, Boot: o.Boot},
		"host rebooted":         {Run: "r1", Node: "web01", PID: o.PID, PIDStart: o.PIDStart, Boot: "another-boot"},
		"process gone":          {Run: "r1", Node: "web01", PID: 1 << 30, PIDStart: 1, Boot: o.Boot},
	} {
		if dead.Alive() {
			t.Errorf("%s: %+v counts as alive", name, dead)
		}
	}
	x, err := New(WithName("d"), WithOwner(o)).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	var d libvirtxml.Domain
	if err := d.Unmarshal(x); err != nil {
		t.Fatal(err)
	}
	back, err := ownerOf(strings.ReplaceAll(d.Metadata.XML, ` xmlns="urn:drivelab:harness"`, ""))
	if err != nil || back != o {
		t.Fatalf("owner through the domain XML: %+v, %v; want %+v", back, err, o)
	}
}

// A restored node is the machine a cold boot makes: its snapshot was saved
// with the CD-ROM drive a cold node's drive is in, and its medium and NIC go
// in where a cold node has them (hdc on IDE, /dev/sr0; the NIC at PCI slot 3).
func TestRestoredNodeHasTheColdNodesDevices(t *testing.T) {
	cold, x := roundTrip(t, New(WithDisk("/d.qcow2"), WithConfigDrive("/pool/web01.iso"), WithNIC("52:54:00:64:00:1b", "br0")))
	snap, _ := roundTrip(t, snapshotGuest(BootInput{}, DomainQEMU, "r1")("s", Shape{VCPUs: 1, MemoryMiB: 1024}, "/s.qcow2", "/c.log"))
	if len(snap.Devices.Interfaces) != 0 {
		t.Fatalf("the snapshot's guest has a NIC: it could not be the node's")
	}
	var medium libvirtxml.DomainDisk
	var iface libvirtxml.DomainInterface
	cd, ni := cdrom("/pool/web01.iso"), nic(NICSpec{"52:54:00:64:00:1b", "br0"}, 0)
	m, _ := cd.Marshal()
	n, _ := ni.Marshal()
	if err := medium.Unmarshal(m); err != nil {
		t.Fatal(err)
	}
	if err := iface.Unmarshal(n); err != nil {
		t.Fatal(err)
	}
	coldCD := cold.Devices.Disks[1]
	snapCD := snap.Devices.Disks[1]
	for what, got := range map[string]string{
		"snapshot's drive": snapCD.Device + " " + snapCD.Target.Dev + "/" + snapCD.Target.Bus,
		"inserted medium":  medium.Device + " " + medium.Target.Dev + "/" + medium.Target.Bus,
	} {
		if want := coldCD.Device + " " + coldCD.Target.Dev + "/" + coldCD.Target.Bus; got != want {
			t.Errorf("%s: %s, a cold node's: %s\n%s", what, got, want, x)
		}
	}
	if snapCD.Source != nil && snapCD.Source.File != nil && snapCD.Source.File.File != "" {
		t.Errorf("the snapshot's CD-ROM drive has a medium: %+v", snapCD.Source.File)
	}
	addr := func(a *libvirtxml.DomainAddress) string {
		if a == nil || a.PCI == nil {
			return "none"
		}
		return fmt.Sprintf("%d:%d:%d.%d", *a.PCI.Domain, *a.PCI.Bus, *a.PCI.Slot, *a.PCI.Function)
	}
	if got, want := addr(iface.Address), addr(cold.Devices.Interfaces[0].Address); got != want || want == "none" {
		t.Errorf("plugged-in NIC at %s, a cold node's at %s", got, want)
	}
	for i, d := range snap.Devices.Disks {
		if c := cold.Devices.Disks[i]; addr(d.Address) != addr(c.Address) {
			t.Errorf("disk %d: snapshot at %s, cold at %s", i, addr(d.Address), addr(c.Address))
		}
	}
	if addr(snap.Devices.RNGs[0].Address) != addr(cold.Devices.RNGs[0].Address) {
		t.Errorf("RNG at another address")
	}
}
