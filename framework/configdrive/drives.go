package configdrive

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/drivelab/drivelab/framework/lockfile"
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
// failed or interrupted call leaves dir as it was (and creates no parent
// it fails in), and drives of nodes no longer in drives do not survive (see
// Stale). dir may hold only what its manifest says an earlier WriteAll
// wrote: anything else (the user's own ISOs) would be lost, and is refused.
// Writers into one dir take turns, on a lock file beside it.
func WriteAll(ctx context.Context, drives []render.Drive, dir string) (_ []ManifestEntry, err error) {
	given := dir
	dir, err = resolveOut(dir)
	if err != nil {
		return nil, err
	}
	parent, base := filepath.Dir(dir), filepath.Base(dir)
	made, err := mkdirParents(parent)
	defer func() {
		if err != nil {
			removeMade(made)
		}
	}()
	if err != nil {
		shown := strings.NewReplacer(dir, given, parent, filepath.Dir(filepath.Clean(given)))
		return nil, fmt.Errorf("output %s: %s", given, shown.Replace(err.Error()))
	}
	unlock, _, err := lockfile.LockTransient(ctx, filepath.Join(parent, "."+base+".lock"), nil)
	if err != nil {
		return nil, err
	}
	defer unlock()
	mode, err := checkOut(dir, given)
	if err != nil {
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
	defer func() {
		// The user gave dir, not the folder built beside it.
		if err != nil {
			err = pathError{err, strings.NewReplacer(tmp, given)}
		}
	}()
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

// resolveOut is dir made absolute, a symlink followed (so the link stays).
func resolveOut(dir string) (string, error) {
	if dir == "" {
		return "", errors.New("drives: no output folder given")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	if resolved, err := filepath.EvalSymlinks(abs); err == nil {
		abs = resolved
	}
	if filepath.Dir(abs) == abs {
		return "", fmt.Errorf("output %s is the root folder; give a folder of its own for the drives, such as out/drives", dir)
	}
	return abs, nil
}

// mkdirParents creates dir and its missing parents, returning those it
// created, deepest last, so that a failure can take them away again.
func mkdirParents(dir string) (made []string, err error) {
	var missing []string
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Lstat(d); err == nil || !errors.Is(err, os.ErrNotExist) || filepath.Dir(d) == d {
			break
		}
		missing = append(missing, d)
	}
	for i := len(missing) - 1; i >= 0; i-- {
		if err := os.Mkdir(missing[i], 0o755); err != nil {
			if errors.Is(err, syscall.ENOTDIR) {
				err = fmt.Errorf("%s is inside a file, not a folder; give a folder whose parents are folders", missing[i])
			}
			return made, err
		}
		made = append(made, missing[i])
	}
	if st, err := os.Stat(dir); errors.Is(err, syscall.ENOTDIR) {
		return made, fmt.Errorf("a part of %s is a file, not a folder; give a folder whose parents are folders", dir)
	} else if err != nil {
		return made, err
	} else if !st.IsDir() {
		return made, fmt.Errorf("its parent %s is a file, not a folder; give a folder whose parents are folders", dir)
	}
	return made, nil
}

// removeMade removes the folders mkdirParents made, deepest first, each only
// if empty: another writer may have put something there since.
func removeMade(made []string) {
	for i := len(made) - 1; i >= 0; i-- {
		os.Remove(made[i])
	}
}

// pathError is err with the temporary folder's name replaced by the user's.
type pathError struct {
	err error
	r   *strings.Replacer
}

func (e pathError) Error() string { return e.r.Replace(e.err.Error()) }
func (e pathError) Unwrap() error { return e.err }

// checkOut checks that dir holds only what an earlier WriteAll wrote, as its
// manifest lists it; mode is the folder's, kept for the new one. Messages
// name the folder as the user gave it.
func checkOut(dir, given string) (os.FileMode, error) {
	st, err := os.Stat(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return 0o755, nil
	case err != nil:
		return 0, fmt.Errorf("output %s: %w; give a folder whose parent is a folder", given, err)
	case !st.IsDir():
		return 0, fmt.Errorf("output %s is a file, not a folder; give a folder for the drives (it is created if missing)", given)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0, err
	}
	if len(entries) == 0 {
		return st.Mode().Perm(), nil
	}
	written, err := writtenBefore(dir)
	var foreign []string
	for _, e := range entries {
		if !e.Type().IsRegular() || !written[e.Name()] {
			foreign = append(foreign, e.Name())
		}
	}
	if len(foreign) == 0 {
		return st.Mode().Perm(), nil
	}
	why := "its " + ManifestFile + " does not list them"
	if err != nil {
		why = err.Error()
	}
	return 0, fmt.Errorf("output %s holds files e2e drives did not write (%s; %s); the folder is replaced as a whole, so they would be lost: give an empty or new folder for the drives, such as out/drives, or move these files out", given, strings.Join(foreign, ", "), why)
}

// writtenBefore is the files dir's manifest says WriteAll wrote: the
// manifest and the images it lists.
func writtenBefore(dir string) (map[string]bool, error) {
	data, err := os.ReadFile(filepath.Join(dir, ManifestFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("it has no %s", ManifestFile)
	}
	if err != nil {
		return nil, err
	}
	var manifest []ManifestEntry
	if err := json.Unmarshal(data, &manifest); err != nil || len(manifest) == 0 {
		return nil, fmt.Errorf("its %s is not a manifest of drives", ManifestFile)
	}
	written := map[string]bool{ManifestFile: true}
	for _, e := range manifest {
		if e.Image != filepath.Base(e.Image) || !strings.HasSuffix(e.Image, ".iso") {
			return nil, fmt.Errorf("its %s names %q, not a drive in the folder", ManifestFile, e.Image)
		}
		written[e.Image] = true
	}
	return written, nil
}

// Stale lists the drives in dir of nodes that drives does not hold, as
// dir's manifest names them: the next WriteAll into dir removes them.
func Stale(dir string, drives []render.Drive) []string {
	written, _ := writtenBefore(dir)
	var stale []string
	for _, name := range slices.Sorted(maps.Keys(written)) {
		node, ok := strings.CutSuffix(name, ".iso")
		if ok && !slices.ContainsFunc(drives, func(d render.Drive) bool { return d.Node.Name == node }) {
			stale = append(stale, name)
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
