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
// writes <dir>/manifest.json listing every file of every drive. On error the
// images this call wrote are removed, so dir never holds a mixed set.
func WriteAll(ctx context.Context, drives []render.Drive, dir string) (_ []ManifestEntry, err error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var written []string
	defer func() {
		if err != nil {
			for _, p := range written {
				os.Remove(p)
			}
		}
	}()
	var manifest []ManifestEntry
	for _, d := range drives {
		out := filepath.Join(dir, ImageName(d.Node.Name))
		if err := Build(ctx, d, out); err != nil {
			return nil, err
		}
		written = append(written, out)
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
	err = writeAtomic(filepath.Join(dir, ManifestFile), func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
	return manifest, err
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
