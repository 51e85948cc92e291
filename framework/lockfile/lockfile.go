// Package lockfile serializes steps that concurrent runs on one host must
// not do at once (starting the lab's daemons, building the cached image,
// admitting a run), with an advisory lock the kernel drops when its holder
// dies, so a killed run never leaves one behind.
package lockfile

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"

	"github.com/drivelab/drivelab/framework/config"
	"github.com/drivelab/drivelab/framework/wait"
)

// Lock takes the exclusive lock on path (created if missing), waiting for
// its holder as long as ctx allows; waiting() is called once if it must wait.
// The returned func releases it.
func Lock(ctx context.Context, path string, waiting func()) (unlock func(), err error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	f, err := lock(ctx, path, waiting)
	if err != nil {
		return nil, err
	}
	return func() { f.Close() }, nil
}

// LockTransient is Lock for a lock file that must not outlive its holder
// (one beside a user's folder): unlock removes the file, and a waiter that
// then holds the removed file tries again on the path. path's folder must
// exist; created reports whether this call created the file.
func LockTransient(ctx context.Context, path string, waiting func()) (unlock func(), created bool, err error) {
	_, statErr := os.Lstat(path)
	f, err := lock(ctx, path, waiting)
	if err != nil {
		return nil, false, err
	}
	return func() { os.Remove(path); f.Close() }, errors.Is(statErr, os.ErrNotExist), nil
}

// lock opens path and waits for its flock; the file it returns holds it.
func lock(ctx context.Context, path string, waiting func()) (*os.File, error) {
	var held *os.File
	said := false
	err := wait.Until(ctx, wait.Input{What: "lock " + path, Interval: config.LockPoll}, func(context.Context) (bool, string, error) {
		f, err := try(path)
		switch {
		case err != nil:
			return false, "", err
		case f != nil:
			held = f
			return true, "", nil
		}
		if !said && waiting != nil {
			waiting()
			said = true
		}
		return false, "another process holds it", nil
	})
	return held, err
}

// try takes path's flock if it is free: nil, nil means another holds it.
func try(path string) (*os.File, error) {
	for {
		f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
		if err != nil {
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		if opened != nil {
			opened()
		}
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			if same(f, path) {
				return f, nil
			}
			// Its holder removed it (LockTransient) while we opened it:
			// this lock guards nothing, the path's new file does.
			f.Close()
			continue
		}
		f.Close()
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		return nil, nil
	}
}

// opened, when set by a test, runs between opening the file and locking it.
var opened func()

// same reports whether the open file f is still the one at path.
func same(f *os.File, path string) bool {
	a, err := f.Stat()
	if err != nil {
		return false
	}
	b, err := os.Lstat(path)
	return err == nil && os.SameFile(a, b)
}
