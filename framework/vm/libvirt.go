package vm

import (
	"io"

	libvirt "github.com/digitalocean/go-libvirt"
)

// Libvirt is what the harness calls on a libvirt connection: the methods
// of *libvirt.Libvirt that framework/vm and framework/harness use, and no
// more. It is the seam the lifecycle's unit tests put an in-memory libvirt
// behind (framework/vm/vmtest); the end-to-end path always has the real one.
type Libvirt interface {
	DomainCalls
	StorageCalls
	// ConnectGetCapabilities tells whether the kvm domain type is offered (Accel).
	ConnectGetCapabilities() (string, error)
	// ConnectGetLibVersion is the cheapest call that proves libvirtd answers.
	ConnectGetLibVersion() (uint64, error)
	// ConnectGetVersion is the hypervisor's (QEMU's) version: a memory
	// snapshot is only restored by the QEMU that saved it (snapshotKey).
	ConnectGetVersion() (uint64, error)
	// IsConnected and ConnectToURI reconnect after libvirtd restarted, so
	// that a teardown still removes what a run created.
	IsConnected() bool
	ConnectToURI(uri libvirt.ConnectURI) error
	Disconnect() error
}

// DomainCalls are the domain calls: define, start, watch, find and remove.
type DomainCalls interface {
	ConnectListAllDomains(needResults int32, flags libvirt.ConnectListAllDomainsFlags) ([]libvirt.Domain, uint32, error)
	DomainDefineXML(xml string) (libvirt.Domain, error)
	DomainCreate(dom libvirt.Domain) error
	DomainLookupByName(name string) (libvirt.Domain, error)
	DomainGetState(dom libvirt.Domain, flags uint32) (state int32, reason int32, err error)
	DomainGetInfo(dom libvirt.Domain) (state uint8, maxMem uint64, memory uint64, nrVirtCPU uint16, cpuTime uint64, err error)
	DomainGetMetadata(dom libvirt.Domain, typ int32, uri libvirt.OptString, flags libvirt.DomainModificationImpact) (string, error)
	DomainDestroy(dom libvirt.Domain) error
	DomainUndefineFlags(dom libvirt.Domain, flags libvirt.DomainUndefineFlagsValues) error
	// Memory snapshots: save a guest, restore it paused, plug its drive and
	// NIC in, let it run (snapshot.go).
	DomainSaveFlags(dom libvirt.Domain, to string, dxml libvirt.OptString, flags uint32) error
	DomainRestoreFlags(from string, dxml libvirt.OptString, flags uint32) error
	DomainAttachDeviceFlags(dom libvirt.Domain, xml string, flags uint32) error
	DomainUpdateDeviceFlags(dom libvirt.Domain, xml string, flags libvirt.DomainDeviceModifyFlags) error
	DomainResume(dom libvirt.Domain) error
	// DomainGetXMLDesc is the running domain as libvirt made it (device
	// addresses, the CD-ROM's medium), written to the artifacts.
	DomainGetXMLDesc(dom libvirt.Domain, flags libvirt.DomainXMLFlags) (string, error)
}

// StorageCalls are the calls on the harness's pool and its volumes.
type StorageCalls interface {
	StoragePoolLookupByName(name string) (libvirt.StoragePool, error)
	StoragePoolDefineXML(xml string, flags uint32) (libvirt.StoragePool, error)
	StoragePoolBuild(pool libvirt.StoragePool, flags libvirt.StoragePoolBuildFlags) error
	StoragePoolIsActive(pool libvirt.StoragePool) (int32, error)
	StoragePoolCreate(pool libvirt.StoragePool, flags libvirt.StoragePoolCreateFlags) error
	StoragePoolSetAutostart(pool libvirt.StoragePool, autostart int32) error
	StoragePoolRefresh(pool libvirt.StoragePool, flags uint32) error
	StoragePoolListAllVolumes(pool libvirt.StoragePool, needResults int32, flags uint32) ([]libvirt.StorageVol, uint32, error)
	StorageVolCreateXML(pool libvirt.StoragePool, xml string, flags libvirt.StorageVolCreateFlags) (libvirt.StorageVol, error)
	StorageVolUpload(vol libvirt.StorageVol, r io.Reader, offset, length uint64, flags libvirt.StorageVolUploadFlags) error
	StorageVolGetPath(vol libvirt.StorageVol) (string, error)
	StorageVolLookupByName(pool libvirt.StoragePool, name string) (libvirt.StorageVol, error)
	StorageVolDelete(vol libvirt.StorageVol, flags libvirt.StorageVolDeleteFlags) error
}

var _ Libvirt = (*libvirt.Libvirt)(nil)
