package image

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/drivelab/drivelab/framework/testenv"
)

// disk writes a file of size bytes with the given bytes at the given offsets.
func disk(t *testing.T, name string, size int, at map[int]string) string {
	t.Helper()
	b := make([]byte, size)
	for off, s := range at {
		copy(b[off:], s)
	}
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestInspectAcceptsQcow2AndRawDisks(t *testing.T) {
	for _, c := range []struct {
		name, path, want string
	}{
		{"qcow2 v3", disk(t, "a.qcow2", 1<<16, map[int]string{0: "QFI\xfb\x00\x00\x00\x03"}), FormatQCOW2},
		{"qcow2 v2", disk(t, "b.qcow2", 1<<16, map[int]string{0: "QFI\xfb\x00\x00\x00\x02"}), FormatQCOW2},
		{"raw with MBR", disk(t, "mbr.img", 1<<20, map[int]string{510: "\x55\xaa"}), FormatRaw},
		{"raw ext4 filesystem", disk(t, "root.img", 1<<20, map[int]string{1080: "\x53\xef"}), FormatRaw},
	} {
		got, err := Inspect(c.path)
		if err != nil || got != c.want {
			t.Errorf("%s: Inspect = %q, %v; want %q", c.name, got, err, c.want)
		}
	}
}

func TestInspectRealImages(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		tool string
		args []string
		file string
		want string
	}{
		{"qemu-img", []string{"create", "-q", "-f", "qcow2", filepath.Join(dir, "q.qcow2"), "64M"}, "q.qcow2", FormatQCOW2},
		{"mkfs.ext4", []string{"-q", filepath.Join(dir, "fs.raw"), "8M"}, "fs.raw", FormatRaw},
	} {
		if _, err := exec.LookPath(c.tool); !testenv.Have(t, err == nil, "%s is not installed: checked with synthetic headers only", c.tool) {
			continue
		}
		if out, err := exec.Command(c.tool, c.args...).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", c.tool, err, out)
		}
		if got, err := Inspect(filepath.Join(dir, c.file)); err != nil || got != c.want {
			t.Errorf("%s image: Inspect = %q, %v; want %q", c.tool, got, err, c.want)
		}
	}
}

func TestInspectRejectsWhatCannotBoot(t *testing.T) {
	for _, c := range []struct {
		name, path string
		want       []string // each must appear in the error
	}{
		{"missing", filepath.Join(t.TempDir(), "nope.qcow2"), []string{"nope.qcow2", "no such file", "--image"}},
		{"directory", t.TempDir(), []string{"not a regular file", "--image"}},
		{"qcow v1", disk(t, "old.qcow", 1<<16, map[int]string{0: "QFI\xfb\x00\x00\x00\x01"}), []string{"old.qcow", "qcow version 1", "qemu-img convert -O qcow2"}},
		{"xz", disk(t, "img.qcow2.xz", 1<<16, map[int]string{0: "\xfd7zXZ\x00"}), []string{"img.qcow2.xz", "xz-compressed", "decompress"}},
		{"gzip", disk(t, "img.raw.gz", 1<<16, map[int]string{0: "\x1f\x8b"}), []string{"gzip-compressed", "decompress"}},
		{"vmdk", disk(t, "img.vmdk", 1<<16, map[int]string{0: "KDMV"}), []string{"img.vmdk", "VMDK", "qemu-img convert -O qcow2"}},
		{"iso", disk(t, "cd.iso", 1<<17, map[int]string{0x8001: "CD001"}), []string{"cd.iso", "ISO 9660"}},
		{"text", disk(t, "notes.txt", 1<<16, map[int]string{0: "hello, not a disk"}), []string{"notes.txt", "neither qcow2 nor a raw disk", "qemu-img convert"}},
		{"tiny", disk(t, "tiny.img", 100, nil), []string{"tiny.img", "too small"}},
	} {
		format, err := Inspect(c.path)
		if err == nil {
			t.Errorf("%s: Inspect(%s) = %q, want an error", c.name, c.path, format)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q does not mention %q", c.name, err, w)
			}
		}
	}
}
