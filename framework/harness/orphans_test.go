package harness

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/drivelab/drivelab/framework/config"
	"github.com/drivelab/drivelab/framework/vm"
)

func TestOrphanedRuns(t *testing.T) {
	paths := config.Paths{State: t.TempDir()}
	for _, run := range []string{"kept-lab", "kept-suite"} {
		os.MkdirAll(RunDir(paths, run), 0o700)
	}
	os.WriteFile(filepath.Join(RunDir(paths, "kept-lab"), RecordFile), []byte("{}"), 0o600)
	os.WriteFile(filepath.Join(RunDir(paths, "kept-suite"), keptMarker), nil, 0o600)
	me := vm.ProcessOwner("live", "test2")
	gone := vm.Owner{Run: "killed", Node: "test2", PID: 1 << 30, PIDStart: 1, Boot: me.Boot}
	for _, tc := range []struct {
		r      RunOwnership
		orphan bool
	}{
		{RunOwnership{Run: "live", Owner: me, Live: me.Alive()}, false},
		{RunOwnership{Run: "kept-lab", Owner: gone, Kept: isKept(paths, "kept-lab")}, false},
		{RunOwnership{Run: "kept-suite", Owner: gone, Kept: isKept(paths, "kept-suite")}, false},
		{RunOwnership{Run: "killed", Owner: gone, Live: gone.Alive(), Kept: isKept(paths, "killed")}, true},
	} {
		if got := tc.r.Orphaned(); got != tc.orphan {
			t.Errorf("run %s: orphaned = %v, want %v (%+v)", tc.r.Run, got, tc.orphan, tc.r)
		}
	}
}
