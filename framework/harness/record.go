package harness

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/drivelab/drivelab/framework/atomicfile"
	"github.com/drivelab/drivelab/framework/config"
	"github.com/drivelab/drivelab/framework/runid"
	"github.com/drivelab/drivelab/framework/topology"
	"github.com/drivelab/drivelab/framework/vm"
)

// RecordFile is a kept lab's record inside its run's state directory.
const RecordFile = "run.json"

// currentFile, in the state directory, names the run of the kept lab that
// `e2e check`, `ssh`, `status` and a second `e2e up` work on.
const currentFile = "current"

// ErrNoLab means no lab is kept: there is nothing to check or reach.
var ErrNoLab = errors.New("no kept lab")

// Record is what a kept lab was booted from and, per node, what it runs:
// the instance uuid in use and the digest of the drive it booted. It lives
// in <state>/runs/<run>/run.json next to the run's keys and drives.
type Record struct {
	Run      runid.ID `json:"run"`
	Scenario string   `json:"scenario"`
	// Topology, Templates, Overlay, PackageDir and Artifacts are absolute.
	Topology   string   `json:"topology"`
	Flavor     string   `json:"flavor"`
	Templates  string   `json:"templates"`
	Overlay    string   `json:"overlay,omitempty"`
	PackageDir string   `json:"package_dir"`
	Image      vm.Image `json:"image"`
	// Artifacts receives the consoles of every boot of the lab.
	Artifacts string    `json:"artifacts"`
	Created   time.Time `json:"created"`
	Updated   time.Time `json:"updated"`
	// Nodes are in topology order.
	Nodes []NodeRecord `json:"nodes"`
}

// NodeRecord is one node of a kept lab.
type NodeRecord struct {
	Name string `json:"name"`
	// UUID is the instance uuid its drive carries: the topology's at first,
	// a fresh one each time the node is rebooted with a changed drive, so
	// cloud-init sees a new instance.
	UUID  string      `json:"uuid"`
	Drive DriveDigest `json:"drive"`
	// Booted is when the node last became ready, booted from a new drive.
	Booted time.Time `json:"booted"`
}

// RunDir is a run's state directory: keys, drives, record.
func RunDir(paths config.Paths, run runid.ID) string {
	return run.StateDir(paths.State)
}

// LoadRecord reads the record of run.
func LoadRecord(paths config.Paths, run runid.ID) (*Record, error) {
	file := filepath.Join(RunDir(paths, run), RecordFile)
	data, err := os.ReadFile(file)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w: run %s has no record %s (it was not booted by `e2e up`); remove it with `e2e down --run %s`", ErrNoLab, run, file, run)
	}
	if err != nil {
		return nil, err
	}
	var r Record
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("%s: %w; remove the lab with `e2e down --run %s`", file, err, run)
	}
	if r.Run != run {
		return nil, fmt.Errorf("%s names run %q, not %q; remove the lab with `e2e down --run %s`", file, r.Run, run, run)
	}
	return &r, nil
}

// Save writes the record atomically: a reader sees the old or the new one.
func (r *Record) Save(paths config.Paths) error {
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	dir := RunDir(paths, r.Run)
	if err := privateRunDir(paths, dir); err != nil {
		return err
	}
	return atomicfile.Write(filepath.Join(dir, RecordFile), append(data, '\n'), 0o644)
}

// Node returns the record of the named node, or nil.
func (r *Record) Node(name string) *NodeRecord {
	for i := range r.Nodes {
		if r.Nodes[i].Name == name {
			return &r.Nodes[i]
		}
	}
	return nil
}

// Effective is t as the lab runs it: a copy with every recorded node's
// instance uuid in place of the topology's.
func (r *Record) Effective(t *topology.Topology) *topology.Topology {
	eff := *t
	eff.Nodes = make([]topology.Node, len(t.Nodes))
	for i, n := range t.Nodes {
		if nr := r.Node(n.Name); nr != nil {
			n.UUID = nr.UUID
		}
		eff.Nodes[i] = n
	}
	return &eff
}

// SameNodes fails unless t has exactly the recorded nodes: adding or
// removing a node changes every hosts file, which a fresh lab handles.
func (r *Record) SameNodes(t *topology.Topology) error {
	var have []string
	for _, n := range r.Nodes {
		have = append(have, n.Name)
	}
	if strings.Join(have, ",") != strings.Join(t.NodeNames(), ",") {
		return fmt.Errorf("%s now lists nodes %s, the kept lab %s runs %s: take it down with `e2e down` and `e2e up` again",
			t.Path, strings.Join(t.NodeNames(), ", "), r.Run, strings.Join(have, ", "))
	}
	return nil
}

// CurrentRun is the run id of the kept lab, or ErrNoLab.
func CurrentRun(paths config.Paths) (runid.ID, error) {
	data, err := os.ReadFile(filepath.Join(paths.State, currentFile))
	if errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("%w in %s: boot one with `e2e up`", ErrNoLab, paths.State)
	}
	if err != nil {
		return "", err
	}
	run, err := runid.Parse(strings.TrimSpace(string(data)))
	if err != nil {
		return "", fmt.Errorf("%s does not hold a run id (%w): delete it and `e2e down` what is left", filepath.Join(paths.State, currentFile), err)
	}
	return run, nil
}

// LoadCurrent reads the kept lab's record.
func LoadCurrent(paths config.Paths) (*Record, error) {
	run, err := CurrentRun(paths)
	if err != nil {
		return nil, err
	}
	return LoadRecord(paths, run)
}

// SetCurrent makes run the kept lab.
func SetCurrent(paths config.Paths, run runid.ID) error {
	if err := stateRoot(paths); err != nil {
		return err
	}
	return atomicfile.Write(filepath.Join(paths.State, currentFile), []byte(run+"\n"), 0o644)
}

// Forget removes run's state directory and, when run is the kept lab,
// the pointer to it. Call it once the run's domains and volumes are gone.
func Forget(paths config.Paths, run runid.ID) error {
	var errs []error
	if cur, err := CurrentRun(paths); err == nil && cur == run {
		errs = append(errs, os.Remove(filepath.Join(paths.State, currentFile)))
	}
	errs = append(errs, os.RemoveAll(RunDir(paths, run)))
	return errors.Join(errs...)
}
