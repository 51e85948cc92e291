package lockfile

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestLockExcludesAndWaits(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "x.lock")
	ctx := context.Background()
	unlock, err := Lock(ctx, path, func() { t.Error("the first taker waited") })
	if err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	waited := false
	if _, err := Lock(short, path, func() { waited = true }); err == nil {
		t.Fatal("a second taker got the lock while it was held")
	}
	if !waited {
		t.Error("the second taker did not say it waits")
	}
	go func() { time.Sleep(100 * time.Millisecond); unlock() }()
	unlock2, err := Lock(ctx, path, nil)
	if err != nil {
		t.Fatalf("after release: %v", err)
	}
	unlock2()
}

// A transient lock file is gone after its holder, and a taker that opened
// it just before the holder removed it does not take the removed file's
// lock: a third taker would then hold the path's new file at the same time.
func TestLockTransientRemovesItsFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), ".out.lock")
	ctx := context.Background()
	unlock, created, err := LockTransient(ctx, path, nil)
	if err != nil || !created {
		t.Fatalf("created %v, %v", created, err)
	}
	opened = func() { opened = nil; unlock() } // the holder leaves between open and flock
	defer func() { opened = nil }()
	unlock2, created, err := LockTransient(ctx, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if created {
		t.Error("created: the file existed when the second taker came")
	}
	short, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	if _, _, err := LockTransient(short, path, nil); err == nil {
		t.Fatal("a third taker got the lock while the second held it")
	}
	unlock2()
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("the lock file outlived its holders: %v", err)
	}
}
