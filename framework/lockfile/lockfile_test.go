package lockfile

import (
	"context"
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
