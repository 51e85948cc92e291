package image

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
)

// Disk formats Inspect accepts; the names are qemu's (libvirt's driver type).
const (
	FormatQCOW2 = "qcow2"
	FormatRaw   = "raw"
)

// Inspect says whether path is a disk image a guest can boot from its own
// disk (--image PATH): a qcow2 image (version 2 or 3) or a raw disk with a
// partition table or a bare ext2/3/4 filesystem. Anything else gets an error
// naming the path, what it looks like and how to convert it.
func Inspect(path string) (format string, err error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("guest image %s: %w: pass --image with the path of a qcow2 or raw disk image", path, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return "", fmt.Errorf("guest image %s: %w", path, err)
	}
	if !st.Mode().IsRegular() {
		return "", fmt.Errorf("guest image %s is not a regular file: pass --image with the path of a qcow2 or raw disk image", path)
	}
	// 36 KiB covers every signature below, up to ISO 9660's at 32 KiB.
	head := make([]byte, 36<<10)
	n, err := io.ReadFull(f, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("guest image %s: %w", path, err)
	}
	head = head[:n]
	convert := fmt.Sprintf("convert it with `qemu-img convert -O qcow2 %s %s.qcow2` and pass that", path, path)

	switch {
	case bytes.HasPrefix(head, []byte("QFI\xfb")):
		if len(head) < 8 {
			return "", fmt.Errorf("guest image %s: truncated qcow2 header: download the image again", path)
		}
		if v := binary.BigEndian.Uint32(head[4:8]); v != 2 && v != 3 {
			return "", fmt.Errorf("guest image %s is qcow version %d, not qcow2: %s", path, v, convert)
		}
		return FormatQCOW2, nil
	case st.Size() < 64<<10 || st.Size()%512 != 0:
		return "", fmt.Errorf("guest image %s (%d bytes) is too small or not a whole number of 512-byte sectors "+
			"to be a disk image: pass --image with a qcow2 or raw disk image", path, st.Size())
	}
	decompress := "decompress it first (xz -d, gunzip, zstd -d, bunzip2) and pass the disk image inside"
	for _, s := range []struct {
		off         int
		magic, what string
		fix         string
	}{
		{0, "\x1f\x8b", "gzip-compressed", decompress},
		{0, "\xfd7zXZ\x00", "xz-compressed", decompress},
		{0, "\x28\xb5\x2f\xfd", "zstd-compressed", decompress},
		{0, "BZh", "bzip2-compressed", decompress},
		{0, "KDMV", "a VMDK image", convert},
		{0, "conectix", "a VHD image", convert},
		{0, "vhdxfile", "a VHDX image", convert},
		{64, "\x7f\x10\xda\xbe", "a VDI image", convert},
		{0x8001, "CD001", "an ISO 9660 image (an installer or a config drive?)", "pass --image with a disk image"},
	} {
		if len(head) >= s.off+len(s.magic) && string(head[s.off:s.off+len(s.magic)]) == s.magic {
			return "", fmt.Errorf("guest image %s is %s, not qcow2 or raw: %s", path, s.what, s.fix)
		}
	}
	switch {
	case len(head) >= 512 && head[510] == 0x55 && head[511] == 0xaa: // MBR or GPT protective MBR
		return FormatRaw, nil
	case len(head) >= 1082 && binary.LittleEndian.Uint16(head[1080:1082]) == 0xef53: // bare ext2/3/4
		return FormatRaw, nil
	}
	return "", fmt.Errorf("guest image %s is neither qcow2 nor a raw disk (no partition table, no ext4 filesystem): "+
		"pass --image with a bootable qcow2 or raw cloud image, or %s", path, convert)
}
