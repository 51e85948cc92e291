package vm

import (
	"encoding/xml"
	"fmt"

	"libvirt.org/go/libvirtxml"
)

// Libvirt domain types.
const (
	DomainKVM  = "kvm"
	DomainQEMU = "qemu" // TCG emulation
)

// MetadataURI names the harness's element in a domain's <metadata>; a
// domain carrying it belongs to the harness, whatever its name.
const MetadataURI = "urn:drivelab:harness"

// Owner is the harness's mark in a domain's metadata: the run and node,
// and the process that booted it (see ProcessOwner).
type Owner struct {
	Run      string `xml:"run"`
	Node     string `xml:"node"`
	PID      int    `xml:"pid,omitempty"`
	PIDStart uint64 `xml:"pid-start,omitempty"`
	Boot     string `xml:"host-boot,omitempty"`
}

// ownerElement is Owner as written into <metadata>: libvirt wants the
// element in a namespace, and returns it without one.
type ownerElement struct {
	XMLName xml.Name `xml:"urn:drivelab:harness owner"`
	Owner
}

// Spec is what a domain is made of. Options fill it; New turns it into
// libvirt's model.
type Spec struct {
	Name       string
	DomainType string
	VCPUs      int
	MemoryMiB  int
	// Disk is the guest's root disk (qcow2), attached as virtio /dev/vda.
	Disk string
	// CDROM adds the IDE CD-ROM drive (/dev/sr0) the config drive is the
	// medium of, as Nova attaches an ISO config drive; ConfigDrive is that
	// medium, "" an empty tray (a memory snapshot's, filled after restore).
	CDROM       bool
	ConfigDrive string
	// NICs are the guest's virtio NICs, eth0 first, at fixed PCI slots.
	NICs []NICSpec
	// Kernel, Initrd, Cmdline boot the kernel directly; empty Kernel boots the disk.
	Kernel, Initrd, Cmdline string
	// SerialLog receives everything the guest writes to its serial console.
	SerialLog string
	Owner     Owner
}

// Option sets one part of a Spec.
type Option func(*Spec)

func WithName(name string) Option       { return func(s *Spec) { s.Name = name } }
func WithDomainType(t string) Option    { return func(s *Spec) { s.DomainType = t } }
func WithVCPUs(n int) Option            { return func(s *Spec) { s.VCPUs = n } }
func WithMemoryMiB(mib int) Option      { return func(s *Spec) { s.MemoryMiB = mib } }
func WithDisk(path string) Option       { return func(s *Spec) { s.Disk = path } }
func WithConfigDrive(iso string) Option { return func(s *Spec) { s.CDROM, s.ConfigDrive = true, iso } }
func WithEmptyCDROM() Option            { return func(s *Spec) { s.CDROM = true } }
func WithNIC(mac, bridge string) Option {
	return func(s *Spec) { s.NICs = append(s.NICs, NICSpec{MAC: mac, Bridge: bridge}) }
}
func WithSerialLog(path string) Option { return func(s *Spec) { s.SerialLog = path } }
func WithMetadata(run, node string) Option {
	return func(s *Spec) { s.Owner = Owner{Run: run, Node: node} }
}
func WithOwner(o Owner) Option { return func(s *Spec) { s.Owner = o } }
func WithKernel(kernel, initrd, cmdline string) Option {
	return func(s *Spec) { s.Kernel, s.Initrd, s.Cmdline = kernel, initrd, cmdline }
}

// New builds a domain from options. Unset parts get safe defaults: type
// qemu, 1 vCPU, 1 GiB.
func New(opts ...Option) *libvirtxml.Domain {
	s := Spec{DomainType: DomainQEMU, VCPUs: 1, MemoryMiB: 1024}
	for _, o := range opts {
		o(&s)
	}
	return s.Domain()
}

// Domain turns the spec into libvirt's domain model.
func (s Spec) Domain() *libvirtxml.Domain {
	port := uint(0)
	d := &libvirtxml.Domain{
		Type:   s.DomainType,
		Name:   s.Name,
		Memory: &libvirtxml.DomainMemory{Value: uint(s.MemoryMiB), Unit: "MiB"},
		VCPU:   &libvirtxml.DomainVCPU{Value: uint(s.VCPUs)},
		OS: &libvirtxml.DomainOS{
			// i440fx: its IDE controller is what Debian's cloud kernel (ata_piix,
			// no AHCI) and CentOS 7 both read a config-2 CD-ROM from.
			Type:    &libvirtxml.DomainOSType{Arch: "x86_64", Machine: "pc", Type: "hvm"},
			Kernel:  s.Kernel,
			Initrd:  s.Initrd,
			Cmdline: s.Cmdline,
		},
		Features:   &libvirtxml.DomainFeatureList{ACPI: &libvirtxml.DomainFeature{}, APIC: &libvirtxml.DomainFeatureAPIC{}},
		Clock:      &libvirtxml.DomainClock{Offset: "utc"},
		OnPoweroff: "destroy",
		OnReboot:   "restart",
		OnCrash:    "destroy",
		// Guests run as root without relabeling: every guest shares the base
		// image read-only, and the image cache and artifacts may sit in
		// directories the qemu user cannot enter. DAC relabeling would chown
		// files libvirt does not own, back and forth, under running guests.
		SecLabel: []libvirtxml.DomainSecLabel{{Type: "static", Model: "dac", Relabel: "no", Label: "+0:+0"}},
		Devices: &libvirtxml.DomainDeviceList{
			Serials: []libvirtxml.DomainSerial{{
				Source: &libvirtxml.DomainChardevSource{Pty: &libvirtxml.DomainChardevSourcePty{}},
				Target: &libvirtxml.DomainSerialTarget{Port: &port},
				// virtlogd writes the log, so it survives the domain and needs no pty reader.
				Log: &libvirtxml.DomainChardevLog{File: s.SerialLog, Append: "off"},
			}},
			Consoles: []libvirtxml.DomainConsole{{
				Source: &libvirtxml.DomainChardevSource{Pty: &libvirtxml.DomainChardevSourcePty{}},
				Target: &libvirtxml.DomainConsoleTarget{Type: "serial", Port: &port},
			}},
			// Entropy for early sshd and cloud-init under slow emulation.
			RNGs: []libvirtxml.DomainRNG{{
				Model:   "virtio",
				Address: pciSlot(rngSlot),
				Backend: &libvirtxml.DomainRNGBackend{Random: &libvirtxml.DomainRNGBackendRandom{Device: "/dev/urandom"}},
			}},
			MemBalloon: &libvirtxml.DomainMemBalloon{Model: "none"},
		},
	}
	if s.Kernel == "" {
		d.OS.BootDevices = []libvirtxml.DomainBootDevice{{Dev: "hd"}}
	}
	if s.DomainType == DomainKVM {
		d.CPU = &libvirtxml.DomainCPU{Mode: "host-passthrough"}
	}
	if s.Owner != (Owner{}) {
		b, _ := xml.Marshal(ownerElement{Owner: s.Owner}) // two strings always marshal
		d.Metadata = &libvirtxml.DomainMetadata{XML: string(b)}
	}
	if s.Disk != "" {
		// The disk is a throwaway overlay: skipping flushes saves emulated I/O.
		d.Devices.Disks = append(d.Devices.Disks, libvirtxml.DomainDisk{
			Device:  "disk",
			Driver:  &libvirtxml.DomainDiskDriver{Name: "qemu", Type: "qcow2", Cache: "unsafe"},
			Source:  &libvirtxml.DomainDiskSource{File: &libvirtxml.DomainDiskSourceFile{File: s.Disk}},
			Target:  &libvirtxml.DomainDiskTarget{Dev: "vda", Bus: "virtio"},
			Address: pciSlot(diskSlot),
		})
	}
	if s.CDROM {
		d.Devices.Disks = append(d.Devices.Disks, cdrom(s.ConfigDrive))
	}
	for i, c := range s.NICs {
		d.Devices.Interfaces = append(d.Devices.Interfaces, nic(c, i))
	}
	return d
}

// PCI slots on the i440fx root bus, fixed so that a node restored from a
// memory snapshot, whose NICs are plugged in after the restore, has them at
// the addresses a cold boot gives them (slots 0 and 1 are the host bridge
// and PIIX3). eth0 is at nicSlot, further NICs from moreNICsSlot on: the
// kernel names them in slot order on a cold boot, in plug order restored.
const (
	nicSlot      = 3
	diskSlot     = 4
	rngSlot      = 5
	moreNICsSlot = 6
	// MaxNICs is what the root bus has room for after moreNICsSlot.
	MaxNICs = 1 + 32 - moreNICsSlot
)

// NICSpec is one virtio NIC: its MAC and the bridge it plugs into.
type NICSpec struct{ MAC, Bridge string }

func nicSlotOf(i int) uint {
	if i == 0 {
		return nicSlot
	}
	return uint(moreNICsSlot + i - 1)
}

func pciSlot(slot uint) *libvirtxml.DomainAddress {
	zero, s := uint(0), slot
	return &libvirtxml.DomainAddress{PCI: &libvirtxml.DomainAddressPCI{Domain: &zero, Bus: &zero, Slot: &s, Function: &zero}}
}

// GuestDrive is the config drive's device in the guest, on every path: the
// IDE CD-ROM, as Nova attaches an ISO config drive.
const GuestDrive = "/dev/sr0"

// cdrom is the IDE CD-ROM drive (hdc: /dev/sr0 in the guest) with iso as
// its medium, or an empty tray for "". A restored node gets its medium by
// a media change on this same drive (restorePlan).
func cdrom(iso string) libvirtxml.DomainDisk {
	d := libvirtxml.DomainDisk{
		Device:   "cdrom",
		Driver:   &libvirtxml.DomainDiskDriver{Name: "qemu", Type: "raw"},
		Target:   &libvirtxml.DomainDiskTarget{Dev: "hdc", Bus: "ide"},
		ReadOnly: &libvirtxml.DomainDiskReadOnly{},
	}
	if iso != "" {
		d.Source = &libvirtxml.DomainDiskSource{File: &libvirtxml.DomainDiskSourceFile{File: iso}}
	}
	return d
}

// nic is the node's i-th virtio NIC, at its fixed PCI slot.
func nic(c NICSpec, i int) libvirtxml.DomainInterface {
	return libvirtxml.DomainInterface{
		MAC:     &libvirtxml.DomainInterfaceMAC{Address: c.MAC},
		Source:  &libvirtxml.DomainInterfaceSource{Bridge: &libvirtxml.DomainInterfaceSourceBridge{Bridge: c.Bridge}},
		Model:   &libvirtxml.DomainInterfaceModel{Type: "virtio"},
		Address: pciSlot(nicSlotOf(i)),
		// No iPXE option ROM: nothing boots from the network, and SeaBIOS
		// would load and run it on every start.
		ROM: &libvirtxml.DomainROM{Enabled: "no"},
	}
}

// ownerOf reads the harness's mark from metadata XML as libvirt returns it.
func ownerOf(metadata string) (Owner, error) {
	var e struct {
		XMLName xml.Name
		Owner
	}
	if err := xml.Unmarshal([]byte(metadata), &e); err != nil {
		return Owner{}, fmt.Errorf("domain metadata %q: %w", metadata, err)
	}
	if e.XMLName.Local != "owner" || e.Run == "" || e.Node == "" {
		return Owner{}, fmt.Errorf("domain metadata %q is not the harness's owner element", metadata)
	}
	return e.Owner, nil
}
