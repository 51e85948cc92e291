package harness

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/drivelab/drivelab/framework/atomicfile"
	"github.com/drivelab/drivelab/framework/config"
	"github.com/drivelab/drivelab/framework/configdrive"
	"github.com/drivelab/drivelab/framework/render"
)

// Modes of the state folder. The runs hold SSH private keys (the run's
// client key, every node's host key) and drives carrying those and root
// passwords: only root lists or reads them. The state root itself stays
// traversable (0711, not listable) because libvirt's QEMU, which runs as
// libvirt-qemu, opens volumes in the pool folder beneath it.
const (
	stateRootMode = 0o711
	privateMode   = 0o700
)

// privateDir makes dir (and missing parents) and sets it to 0700 even when
// it existed, so state left by an older harness is tightened too.
func privateDir(dir string) error {
	if err := os.MkdirAll(dir, privateMode); err != nil {
		return err
	}
	return os.Chmod(dir, privateMode)
}

// privateRunDir makes a run's state folder: the state root (0711 when this
// creates it; an existing one, which may be shared, keeps its mode), the
// runs folder and the run's own, both 0700.
func privateRunDir(paths config.Paths, runDir string) error {
	if err := stateRoot(paths); err != nil {
		return err
	}
	if err := privateDir(filepath.Dir(runDir)); err != nil {
		return err
	}
	return privateDir(runDir)
}

// stateRoot makes the state root 0711 if it does not exist yet.
func stateRoot(paths config.Paths) error {
	if _, err := os.Stat(paths.State); !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if err := os.MkdirAll(paths.State, stateRootMode); err != nil {
		return err
	}
	return os.Chmod(paths.State, stateRootMode)
}

// RedactedNote heads the artifacts' drive listing.
const RedactedNote = "copies of the drives the nodes booted, with every SSH private key replaced by " +
	"\"" + render.RedactedKey + "\": they cannot boot a node or impersonate one; " +
	"files marked redacted differ from what the node read (sha256 is of the copy)"

// listedFile is one manifest entry of the artifacts' drives.
type listedFile struct {
	configdrive.ManifestEntry
	Redacted string `json:"redacted,omitempty"`
}

// saveRedacted writes the drives into dir (an artifacts folder, which CI
// systems upload and keep) with their private keys redacted, and rewrites
// the listing (manifest.json) to say which files were.
func saveRedacted(ctx context.Context, drives []render.Drive, dir string) error {
	redacted := map[string]map[string]bool{}
	copies := make([]render.Drive, len(drives))
	for i, d := range drives {
		var paths []string
		copies[i], paths = render.Redacted(d)
		redacted[d.Node.Name] = map[string]bool{}
		for _, p := range paths {
			redacted[d.Node.Name][p] = true
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	entries, err := configdrive.WriteAll(ctx, copies, dir)
	if err != nil {
		return err
	}
	listing := struct {
		Note  string       `json:"note"`
		Files []listedFile `json:"files"`
	}{Note: RedactedNote}
	for _, e := range entries {
		f := listedFile{ManifestEntry: e}
		if redacted[e.Node][e.Path] {
			f.Redacted = "private key(s) replaced"
		}
		listing.Files = append(listing.Files, f)
	}
	data, err := json.MarshalIndent(listing, "", "  ")
	if err != nil {
		return err
	}
	if err := atomicfile.Write(filepath.Join(dir, configdrive.ManifestFile), append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("artifacts drive listing: %w", err)
	}
	return nil
}
