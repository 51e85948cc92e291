// Package vm boots a topology's nodes as libvirt domains and takes them down
// again whatever happens. It talks to libvirtd over its unix socket with
// go-libvirt and builds domain XML with libvirtxml.
//
// Every domain, volume and file of a run is named dl-<run>-<node>; domains
// also carry the harness's metadata (MetadataURI) with run and node, which is
// what DownAll trusts: a domain without it is never touched.
//
// Environment: E2E_LIBVIRT_SOCKET points at another libvirtd (Socket);
// E2E_ACCEL=kvm or qemu overrides the accelerator detection (Accel); on small
// runners E2E_MAX_VCPUS and E2E_MAX_MEMORY_MIB cap every node's vCPUs and
// memory below what the topology asks (E2E_MAX_VCPUS=1 E2E_MAX_MEMORY_MIB=768
// boots the four reference nodes in about 3 GiB).
package vm

import "github.com/drivelab/drivelab/framework/runid"

// Prefix starts the name of everything the harness creates in libvirt.
const Prefix = runid.Prefix

func checkRunID(id string) error { return runid.ID(id).Check() }

// DomainName is the libvirt name of a node's domain in a run.
func DomainName(run, node string) string { return runid.ID(run).Domain(node) }

func diskVolume(run, node string) string  { return DomainName(run, node) + ".qcow2" }
func driveVolume(run, node string) string { return DomainName(run, node) + "-config.iso" }

// saveVolume is a restored node's own copy of its snapshot's save image,
// there only until the restore.
func saveVolume(run, node string) string { return DomainName(run, node) + ".save" }

// volumes are every volume name a node of a run may have.
func volumes(run, node string) []string {
	return []string{diskVolume(run, node), driveVolume(run, node), saveVolume(run, node), consoleVolume(run, node)}
}
