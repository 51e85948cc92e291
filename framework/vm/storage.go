package vm

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"os"

	libvirt "github.com/digitalocean/go-libvirt"
	"libvirt.org/go/libvirtxml"
)

// PoolName is the harness's libvirt storage pool. It holds only the
// harness's volumes (overlays and config drives), so `virsh vol-list
// drivelab` shows what runs left.
const PoolName = "drivelab"

// EnsurePool defines, builds and starts the harness's dir pool as needed,
// and marks it autostart so it is active again whenever libvirtd restarts.
func EnsurePool(conn Libvirt, dir string) (libvirt.StoragePool, error) {
	pool, err := conn.StoragePoolLookupByName(PoolName)
	if isNotFound(err) {
		def := libvirtxml.StoragePool{Type: "dir", Name: PoolName, Target: &libvirtxml.StoragePoolTarget{Path: dir}}
		x, err := def.Marshal()
		if err != nil {
			return pool, err
		}
		if pool, err = conn.StoragePoolDefineXML(x, 0); err != nil {
			return pool, fmt.Errorf("defining storage pool %s at %s: %w", PoolName, dir, err)
		}
		if err := conn.StoragePoolBuild(pool, libvirt.StoragePoolBuildNew); err != nil {
			return pool, fmt.Errorf("building storage pool %s at %s: %w", PoolName, dir, err)
		}
	} else if err != nil {
		return pool, fmt.Errorf("storage pool %s: %w", PoolName, err)
	}
	active, err := conn.StoragePoolIsActive(pool)
	if err != nil {
		return pool, fmt.Errorf("storage pool %s: %w", PoolName, err)
	}
	if active == 0 {
		if err := conn.StoragePoolCreate(pool, 0); err != nil {
			return pool, fmt.Errorf("starting storage pool %s: %w; check `virsh pool-dumpxml %s`", PoolName, err, PoolName)
		}
	}
	if err := conn.StoragePoolSetAutostart(pool, 1); err != nil {
		return pool, fmt.Errorf("storage pool %s autostart: %w", PoolName, err)
	}
	return pool, nil
}

// createOverlay creates a qcow2 volume backed by base (of format and
// virtual size), which it never writes.
func createOverlay(conn Libvirt, pool libvirt.StoragePool, name, base, format string, size uint64) (string, error) {
	def := libvirtxml.StorageVolume{
		Name:     name,
		Capacity: &libvirtxml.StorageVolumeSize{Unit: "bytes", Value: size},
		Target:   &libvirtxml.StorageVolumeTarget{Format: &libvirtxml.StorageVolumeTargetFormat{Type: "qcow2"}},
		BackingStore: &libvirtxml.StorageVolumeBackingStore{
			Path:   base,
			Format: &libvirtxml.StorageVolumeTargetFormat{Type: format},
		},
	}
	x, err := def.Marshal()
	if err != nil {
		return "", err
	}
	vol, err := conn.StorageVolCreateXML(pool, x, 0)
	if err != nil {
		return "", fmt.Errorf("creating overlay %s over %s: %w", name, base, err)
	}
	return conn.StorageVolGetPath(vol)
}

// uploadFile copies a file (a config drive) into a new raw volume.
func uploadFile(conn Libvirt, pool libvirt.StoragePool, name, path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return "", err
	}
	def := libvirtxml.StorageVolume{
		Name:     name,
		Capacity: &libvirtxml.StorageVolumeSize{Unit: "bytes", Value: uint64(st.Size())},
		Target:   &libvirtxml.StorageVolumeTarget{Format: &libvirtxml.StorageVolumeTargetFormat{Type: "raw"}},
	}
	x, err := def.Marshal()
	if err != nil {
		return "", err
	}
	vol, err := conn.StorageVolCreateXML(pool, x, 0)
	if err != nil {
		return "", fmt.Errorf("creating volume %s for %s: %w", name, path, err)
	}
	if err := conn.StorageVolUpload(vol, f, 0, uint64(st.Size()), 0); err != nil {
		return "", fmt.Errorf("uploading %s into volume %s: %w", path, name, err)
	}
	return conn.StorageVolGetPath(vol)
}

// deleteVolume deletes a volume of the pool; a missing one is no error.
func deleteVolume(conn Libvirt, pool libvirt.StoragePool, name string) (bool, error) {
	vol, err := conn.StorageVolLookupByName(pool, name)
	if isNotFound(err) {
		return false, nil
	}
	if err == nil {
		err = conn.StorageVolDelete(vol, libvirt.StorageVolDeleteNormal)
	}
	if err != nil && !isNotFound(err) {
		return false, fmt.Errorf("deleting volume %s: %w", name, err)
	}
	return err == nil, nil
}

// DiskInfo returns a base image's format and virtual size: a qcow2 header
// states it, a raw disk is its file size.
func DiskInfo(path string) (format string, size uint64, err error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, fmt.Errorf("base image: %w", err)
	}
	defer f.Close()
	head := make([]byte, 32)
	if _, err := io.ReadFull(f, head); err == nil && bytes.HasPrefix(head, []byte("QFI\xfb")) {
		return "qcow2", binary.BigEndian.Uint64(head[24:32]), nil
	}
	st, err := f.Stat()
	if err != nil {
		return "", 0, err
	}
	return "raw", uint64(st.Size()), nil
}
