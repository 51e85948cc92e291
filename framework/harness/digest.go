package harness

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"

	"github.com/drivelab/drivelab/framework/render"
)

// DriveDigest identifies a drive by its content, not by its ISO bytes
// (the ISO writer stamps the current time): the sha256 of every file by
// drive path, and one digest over all of them.
type DriveDigest struct {
	Digest string            `json:"digest"`
	Files  map[string]string `json:"files"`
}

// Digest digests every file of a rendered drive; package files are read
// from their source.
func Digest(d render.Drive) (DriveDigest, error) {
	dd := DriveDigest{Files: map[string]string{}}
	for _, f := range d.Files() {
		h := sha256.New()
		switch {
		case f.Data != nil:
			h.Write(f.Data)
		case f.Source != "":
			if err := hashFile(h, f.Source); err != nil {
				return dd, fmt.Errorf("node %s: %s: %w", d.Node.Name, f.Path, err)
			}
		default:
			return dd, fmt.Errorf("node %s: %s has no content: give the package folder (--packages)", d.Node.Name, f.Path)
		}
		dd.Files[f.Path] = hex.EncodeToString(h.Sum(nil))
	}
	all := sha256.New()
	for _, p := range slices.Sorted(maps.Keys(dd.Files)) {
		fmt.Fprintf(all, "%s %s\n", dd.Files[p], p)
	}
	dd.Digest = hex.EncodeToString(all.Sum(nil))
	return dd, nil
}

func hashFile(w io.Writer, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(w, f)
	return err
}

// Changed lists the drive paths whose content differs between two digests
// of a node's drive: changed, added or gone, sorted.
func Changed(old, new DriveDigest) []string {
	var paths []string
	for p, sum := range new.Files {
		if old.Files[p] != sum {
			paths = append(paths, p)
		}
	}
	for p := range old.Files {
		if _, ok := new.Files[p]; !ok {
			paths = append(paths, p)
		}
	}
	slices.Sort(paths)
	return paths
}

// describe names a drive path with what fills it: the template it was
// rendered from, or the package file, so a user sees which edit mattered.
func describe(d render.Drive, path string) string {
	if t, ok := d.Templates[path]; ok {
		return path + " (" + t + ")"
	}
	for _, c := range d.Content {
		if render.ContentFile(c.ContentPath) == path && c.Source != "" {
			return path + " (" + c.Source + ")"
		}
	}
	return path
}
