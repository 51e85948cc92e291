package configdrive

import (
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"

	"github.com/kdomanski/iso9660"
)

// Image is a config drive opened for reading. Close it when done.
type Image struct {
	Label string
	// Files maps each file's path inside the drive (as the guest sees it,
	// e.g. openstack/latest/meta_data.json) to its content.
	Files map[string]*File
	f     *os.File
}

// File is one file of an Image.
type File struct {
	section *io.SectionReader
}

// Size is the file's length in bytes.
func (f *File) Size() int64 { return f.section.Size() }

// Open returns a reader positioned at the file's first byte.
func (f *File) Open() io.Reader { return io.NewSectionReader(f.section, 0, f.section.Size()) }

// Bytes reads the whole file.
func (f *File) Bytes() ([]byte, error) {
	b := make([]byte, f.section.Size())
	_, err := f.section.ReadAt(b, 0)
	if err == io.EOF && len(b) == 0 {
		err = nil
	}
	return b, err
}

// Names lists the file paths, sorted.
func (im *Image) Names() []string {
	names := make([]string, 0, len(im.Files))
	for n := range im.Files {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// Close releases the image file.
func (im *Image) Close() error { return im.f.Close() }

// Read opens an ISO9660 image and lists its files.
func Read(p string) (_ *Image, err error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			f.Close()
		}
	}()
	if err := checkComplete(f); err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	iso, err := iso9660.OpenImage(f)
	if err != nil {
		return nil, fmt.Errorf("%s: not an ISO9660 image: %w", p, err)
	}
	label, err := iso.Label()
	if err != nil {
		return nil, fmt.Errorf("%s: no primary volume: %w", p, err)
	}
	root, err := iso.RootDir()
	if err != nil {
		return nil, fmt.Errorf("%s: no root directory: %w", p, err)
	}
	im := &Image{Label: label, Files: map[string]*File{}, f: f}
	if err := im.walk(root, ""); err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	return im, nil
}

func (im *Image) walk(dir *iso9660.File, prefix string) error {
	children, err := dir.GetChildren()
	if err != nil {
		return err
	}
	for _, c := range children {
		name := path.Join(prefix, c.Name())
		if c.IsDir() {
			if err := im.walk(c, name); err != nil {
				return err
			}
			continue
		}
		// Every file's reader is an *io.SectionReader over the image.
		sr, ok := c.Reader().(*io.SectionReader)
		if !ok {
			return fmt.Errorf("%s: unexpected reader %T", name, c.Reader())
		}
		im.Files[name] = &File{section: sr}
	}
	return nil
}

// checkComplete refuses a truncated image: the library's directory reader
// would silently list a directory it cannot read as empty.
func checkComplete(f *os.File) error {
	var pvd [2048]byte
	if _, err := f.ReadAt(pvd[:], 16*2048); err != nil {
		return fmt.Errorf("too short for an ISO9660 image: %w", err)
	}
	if string(pvd[1:6]) != "CD001" {
		return fmt.Errorf("no ISO9660 volume descriptor")
	}
	blocks := int64(binary.LittleEndian.Uint32(pvd[80:84]))
	blockSize := int64(binary.LittleEndian.Uint16(pvd[128:130]))
	st, err := f.Stat()
	if err != nil {
		return err
	}
	if want := blocks * blockSize; st.Size() < want {
		return fmt.Errorf("truncated: %d bytes, the volume says %d", st.Size(), want)
	}
	return nil
}

// Extract writes every file of the image under dir, as a mounted drive would show them.
func (im *Image) Extract(dir string) error {
	for _, name := range im.Names() {
		if !filepath.IsLocal(name) {
			return fmt.Errorf("extracting %s: the name leaves the directory", name)
		}
		dst := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		out, err := os.Create(dst)
		if err != nil {
			return err
		}
		_, err = io.Copy(out, im.Files[name].Open())
		if cerr := out.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("extracting %s: %w", name, err)
		}
	}
	return nil
}
