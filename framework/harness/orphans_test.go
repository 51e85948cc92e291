package harness

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/drivelab/drivelab/framework/config"
	"github.com/drivelab/drivelab/framework/lab"
	"github.com/drivelab/drivelab/framework/runid"
	"github.com/drivelab/drivelab/framework/vm"
	"github.com/drivelab/drivelab/framework/vm/vmtest"
)

func TestOrphanedRuns(t *testing.T) {
	paths := config.Paths{State: t.TempDir()}
	for _, run := range []string{"kept-lab", "kept-suite"} {
		os.MkdirAll(RunDir(paths, runid.ID(run)), 0o700)
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

// The reaper removes a gone run's domains and claim, and nothing of a live
// run, a kept lab, or a run whose claim is live but whose domains carry no pid.
func TestReapOrphansRemovesOnlyTheGone(t *testing.T) {
	f := vmtest.New()
	me := vm.ProcessOwner("live", "")
	gone := func(run string) vm.Owner { return vm.Owner{Run: run, PID: 1 << 30, PIDStart: 1, Boot: me.Boot} }
	owners := map[string]vm.Owner{"live": me, "gone": gone("gone"), "kept": gone("kept")}
	for run, o := range owners {
		for _, node := range []string{"test2", "web01"} {
			o.Node = node
			x, err := vm.New(vm.WithName(vm.DomainName(run, node)), vm.WithOwner(o)).Marshal()
			if err == nil {
				_, err = f.DomainDefineXML(x)
			}
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	h := Host{Conn: f, Lab: lab.Config{Mode: lab.ModeHost, Networks: []lab.Net{{Name: "default", Bridge: "br0"}}}, Paths: testPaths(t), Registry: t.TempDir()}
	for _, c := range []Claim{{Run: "live", Owner: me}, {Run: "gone", Owner: gone("gone")}, {Run: "kept", Owner: gone("kept"), Kept: true}} {
		if err := writeClaim(h.Registry, c); err != nil {
			t.Fatal(err)
		}
	}
	var said []string
	if err := h.ReapOrphans(context.Background(), time.Second, func(f string, a ...any) { said = append(said, fmt.Sprintf(f, a...)) }); err != nil {
		t.Fatal(err)
	}
	left := strings.Join(f.Domains(), " ")
	for _, want := range []string{"dl-live-test2", "dl-live-web01", "dl-kept-test2", "dl-kept-web01"} {
		if !strings.Contains(left, want) {
			t.Errorf("%s was removed; left: %s", want, left)
		}
	}
	if strings.Contains(left, "dl-gone-") {
		t.Errorf("the gone run's domains are still there: %s", left)
	}
	claims, err := Claims(h.Registry)
	if err != nil || len(claims) != 2 {
		t.Errorf("claims left: %+v (%v), want live and kept", claims, err)
	}
	if len(said) != 1 || !strings.Contains(said[0], "reaped orphaned run gone (started by pid 1073741824, which is gone)") {
		t.Errorf("the reaper said %q", said)
	}
}
