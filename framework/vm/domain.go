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
	// ConfigDrive is an ISO attached as a read-only IDE CD-ROM (/dev/sr0).
	ConfigDrive string
	MAC, Bridge string
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
func WithConfigDrive(iso string) Option { return func(s *Spec) { s.ConfigDrive = iso } }
func WithNIC(mac, bridge string) Option { return func(s *Spec) { s.MAC, s.Bridge = mac, bridge } }
func WithSerialLog(path string) Option  { return func(s *Spec) { s.SerialLog = path } }
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
			Device: "disk",
			Driver: &libvirtxml.DomainDiskDriver{Name: "qemu", Type: "qcow2", Cache: "unsafe"},
			Source: &libvirtxml.DomainDiskSource{File: &libvirtxml.DomainDiskSourceFile{File: s.Disk}},
			Target: &libvirtxml.DomainDiskTarget{Dev: "vda", Bus: "virtio"},
		})
	}
	if s.ConfigDrive != "" {
		d.Devices.Disks = append(d.Devices.Disks, libvirtxml.DomainDisk{
			Device:   "cdrom",
			Driver:   &libvirtxml.DomainDiskDriver{Name: "qemu", Type: "raw"},
			Source:   &libvirtxml.DomainDiskSource{File: &libvirtxml.DomainDiskSourceFile{File: s.ConfigDrive}},
			Target:   &libvirtxml.DomainDiskTarget{Dev: "hdc", Bus: "ide"},
			ReadOnly: &libvirtxml.DomainDiskReadOnly{},
		})
	}
	if s.MAC != "" {
		d.Devices.Interfaces = append(d.Devices.Interfaces, libvirtxml.DomainInterface{
			MAC:    &libvirtxml.DomainInterfaceMAC{Address: s.MAC},
			Source: &libvirtxml.DomainInterfaceSource{Bridge: &libvirtxml.DomainInterfaceSourceBridge{Bridge: s.Bridge}},
			Model:  &libvirtxml.DomainInterfaceModel{Type: "virtio"},
			// No iPXE option ROM: nothing boots from the network, and SeaBIOS
			// would load and run it on every start.
			ROM: &libvirtxml.DomainROM{Enabled: "no"},
		})
	}
	return d
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

// hotplugDrive is the config drive as a restored node gets it: a read-only
// virtio disk (vdb), since an IDE CD-ROM cannot be plugged into a running
// guest. cloud-init finds the drive by its label either way.
func hotplugDrive(iso string) libvirtxml.DomainDisk {
	return libvirtxml.DomainDisk{
		Device:   "disk",
		Driver:   &libvirtxml.DomainDiskDriver{Name: "qemu", Type: "raw"},
		Source:   &libvirtxml.DomainDiskSource{File: &libvirtxml.DomainDiskSourceFile{File: iso}},
		Target:   &libvirtxml.DomainDiskTarget{Dev: "vdb", Bus: "virtio"},
		ReadOnly: &libvirtxml.DomainDiskReadOnly{},
	}
}
