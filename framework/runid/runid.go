// Package runid is a run's id and every name derived from it: the libvirt
// domains and volumes, the network namespace and bridge, the claim in the
// run registry, the state and artifacts folders. Whatever a run creates is
// named here, so that a reaper, `e2e down --run` and a human can tell whose
// it is from the name alone.
package runid

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"regexp"
	"time"
)

// ID is a run's id: <UTC start, 20060102-150405>-<4 hex digits>. It sorts by
// start time, and runs started in the same second differ by the suffix.
type ID string

// Prefix starts the name of everything a run creates in libvirt.
const Prefix = "dl-"

var idRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,23}$`)

// startLayout is how New writes the start time at the front of an id.
const startLayout = "20060102-150405"

// New returns a fresh run id.
func New() ID {
	b := make([]byte, 2)
	rand.Read(b)
	return ID(time.Now().UTC().Format(startLayout) + "-" + hex.EncodeToString(b))
}

// Parse checks s as a run id (names built from it must be valid libvirt,
// file and interface names).
func Parse(s string) (ID, error) {
	if err := ID(s).Check(); err != nil {
		return "", err
	}
	return ID(s), nil
}

// Check says why id cannot name a run's resources, or nil.
func (id ID) Check() error {
	if !idRE.MatchString(string(id)) {
		return fmt.Errorf("run id %q: want 1-24 lower-case letters, digits and '-', starting with a letter or digit (runid.New makes one)", string(id))
	}
	return nil
}

func (id ID) String() string { return string(id) }

// Started is the start time New wrote into id; false for an id of another form.
func (id ID) Started() (time.Time, bool) {
	if len(id) < len(startLayout) {
		return time.Time{}, false
	}
	t, err := time.Parse(startLayout, string(id)[:len(startLayout)])
	return t, err == nil
}

// Domain is the libvirt name of node's domain: dl-<run>-<node>. Its volumes
// and console log are named after it.
func (id ID) Domain(node string) string { return Prefix + string(id) + "-" + node }

// ConsoleLog is where node's serial console is written in the run's artifacts folder.
func (id ID) ConsoleLog(artifactsDir, node string) string {
	return filepath.Join(artifactsDir, id.Domain(node)+".console.log")
}

// Namespace is the run's own network namespace, under the lab's prefix.
func (id ID) Namespace(labPrefix string) string { return labPrefix + "-" + string(id) }

// Bridge is the run's bridge: a hash, as Linux allows 15 characters for an
// interface name; the bridge's alias names the run.
func (id ID) Bridge(labPrefix string) string {
	h := sha256.Sum256([]byte(labPrefix + "/" + string(id)))
	return "dl" + hex.EncodeToString(h[:4])
}

// ClaimFile is the run's claim in the host's run registry.
func (id ID) ClaimFile(registry string) string { return filepath.Join(registry, string(id)+".json") }

// StateDir holds the run's keys and drives below the harness's state folder.
func (id ID) StateDir(state string) string { return filepath.Join(state, "runs", string(id)) }

// ArtifactsDir is the run's folder below the artifacts root.
func (id ID) ArtifactsDir(root string) string { return filepath.Join(root, string(id)) }
