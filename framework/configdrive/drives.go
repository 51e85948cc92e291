package configdrive

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/drivelab/drivelab/framework/render"
)

// ManifestFile is the manifest's name in the directory WriteAll fills.
const ManifestFile = "manifest.json"

// ManifestEntry is one file inside one drive, as read back from the image.
type ManifestEntry struct {
	Node   string `json:"node"`
	Image  string `json:"image"` // the ISO's file name in the directory
	Path   string `json:"path"`  // the path inside the drive
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// ImageName is the file name WriteAll gives a node's drive.
func ImageName(node string) string { return node + ".iso" }

// WriteAll builds <dir>/<node>.iso for every drive, reads each back and
// writes <dir>/manifest.json listing every file of every drive. All of it is
// written into a new folder beside dir that then takes dir's place, so a
// failed or interrupted call leaves dir as it was, and drives of nodes no
// longer in drives do not survive (see Stale). dir may hold only drives and
// a manifest: anything else would be lost, and is refused.
func WriteAll(ctx context.Context, drives []render.Drive, dir string) (_ []ManifestEntry, err error) {
	dir, mode, err := outDir(dir)
	if err != nil {
		return nil, err
	}
	parent, base := filepath.Dir(dir), filepath.Base(dir)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return nil, err
	}
	// A run killed before its swap leaves its folder behind; nothing else uses it.
	leftovers, _ := filepath.Glob(filepath.Join(parent, "."+base+".new-*"))
	for _, l := range leftovers {
		os.RemoveAll(l)
	}
	tmp, err := os.MkdirTemp(parent, "."+base+".new-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp) // after the swap it holds the old folder
	if err := os.Chmod(tmp, mode); err != nil {
		return nil, err
	}
	var manifest []ManifestEntry
	for _, d := range drives {
		out := filepath.Join(tmp, ImageName(d.Node.Name))
		if err := Build(ctx, d, out); err != nil {
			return nil, err
		}
		entries, err := list(d.Node.Name, out)
		if err != nil {
			return nil, err
		}
		manifest = append(manifest, entries...)
	}
	data, err := json.MarshalIndent(manifest, "", "  ")
	if err != nil {
		return nil, err
	}
	data = append(data, '\n')
	err = writeAtomic(filepath.Join(tmp, ManifestFile), func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return manifest, swap(tmp, dir)
}

// outDir resolves dir (a symlink is followed, so the link stays) and checks
// that it holds nothing WriteAll would lose; mode is the folder's, kept for
// the new one.
func outDir(dir string) (string, os.FileMode, error) {
	if dir == "" {
		return "", 0, errors.New("drives: no output folder given")
	}
	dir = filepath.Clean(dir)
	if resolved, err := filepath.EvalSymlinks(dir); err == nil {
		dir = resolved
	}
	st, err := os.Stat(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return dir, 0o755, nil
	case err != nil:
		return "", 0, fmt.Errorf("output %s: %w; give a folder whose parent is a folder", dir, err)
	case !st.IsDir():
		return "", 0, fmt.Errorf("output %s is a file, not a folder; give a folder for the drives (it is created if missing)", dir)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return "", 0, err
	}
	var foreign []string
	for _, e := range entries {
		if !ours(e) {
			foreign = append(foreign, e.Name())
		}
	}
	if len(foreign) > 0 {
		return "", 0, fmt.Errorf("output %s holds files that are not drives (%s): the folder is replaced as a whole, so give an empty folder or one only drives were written to", dir, strings.Join(foreign, ", "))
	}
	return dir, st.Mode().Perm(), nil
}

// ours is a file WriteAll writes: a drive, the manifest, or a temporary of either.
func ours(e os.DirEntry) bool {
	n := e.Name()
	return e.Type().IsRegular() && (strings.HasSuffix(n, ".iso") || n == ManifestFile || strings.HasPrefix(n, ".") && strings.HasSuffix(n, ".tmp"))
}

// Stale lists the drives in dir of nodes that drives does not hold: the
// next WriteAll into dir removes them.
func Stale(dir string, drives []render.Drive) []string {
	entries, _ := os.ReadDir(dir)
	var stale []string
	for _, e := range entries {
		node, ok := strings.CutSuffix(e.Name(), ".iso")
		if ok && !slices.ContainsFunc(drives, func(d render.Drive) bool { return d.Node.Name == node }) {
			stale = append(stale, e.Name())
		}
	}
	return stale
}

// swap puts the folder newDir in dir's place, leaving the old one at newDir.
func swap(newDir, dir string) error {
	if _, err := os.Lstat(dir); errors.Is(err, os.ErrNotExist) {
		return os.Rename(newDir, dir)
	}
	// One step, so there is no moment without dir; not every file system has it.
	err := unix.Renameat2(unix.AT_FDCWD, newDir, unix.AT_FDCWD, dir, unix.RENAME_EXCHANGE)
	if err == nil {
		return nil
	}
	old := newDir + ".old"
	if err := os.Rename(dir, old); err != nil {
		return err
	}
	if err := os.Rename(newDir, dir); err != nil {
		return errors.Join(err, os.Rename(old, dir))
	}
	return os.Rename(old, newDir)
}

// list reads a built image back and digests every file in it.
func list(node, iso string) ([]ManifestEntry, error) {
	im, err := Read(iso)
	if err != nil {
		return nil, err
	}
	defer im.Close()
	if im.Label != Label {
		return nil, fmt.Errorf("%s: label %q, want %q", iso, im.Label, Label)
	}
	var entries []ManifestEntry
	for _, name := range im.Names() {
		h := sha256.New()
		n, err := io.Copy(h, im.Files[name].Open())
		if err != nil {
			return nil, fmt.Errorf("%s: reading %s back: %w", iso, name, err)
		}
		entries = append(entries, ManifestEntry{Node: node, Image: filepath.Base(iso), Path: name, Size: n, SHA256: hex.EncodeToString(h.Sum(nil))})
	}
	if len(entries) == 0 {
		return nil, errors.New(iso + ": read back no files")
	}
	return entries, nil
}
