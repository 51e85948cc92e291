package vm_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	libvirt "github.com/digitalocean/go-libvirt"

	"github.com/drivelab/drivelab/framework/vm"
	"github.com/drivelab/drivelab/framework/vm/vmtest"
)

// unreachable is a libvirt whose connection dropped and whose host answers
// no more: dialling it again fails as a remote host's lost SSH does, or
// fails refused times before it comes back (a restarted libvirtd).
type unreachable struct {
	*vmtest.Libvirt
	refused   int
	tries     atomic.Int32
	connected atomic.Bool
}

func (u *unreachable) IsConnected() bool { return u.connected.Load() }

func (u *unreachable) ConnectToURI(libvirt.ConnectURI) error {
	if n := u.tries.Add(1); u.refused < 0 || int(n) <= u.refused {
		if u.refused < 0 {
			return fmt.Errorf("%w: 10.251.1.2: connection refused", vm.ErrHostGone)
		}
		return errors.New("libvirt-sock: connection refused")
	}
	u.connected.Store(true)
	return nil
}

// Teardown does not wait for a host that cannot be reached at all, but
// does wait for a libvirtd that comes back.
func TestTeardownGivesUpOnAHostGone(t *testing.T) {
	ctx := context.Background()
	gone := &unreachable{Libvirt: vmtest.New(), refused: -1}
	start := time.Now()
	_, err := vm.DownRun(ctx, gone, "r1", time.Minute)
	if !errors.Is(err, vm.ErrHostGone) {
		t.Fatalf("DownRun on a host gone = %v, want vm.ErrHostGone", err)
	}
	if took := time.Since(start); took > 5*time.Second || gone.tries.Load() != 1 {
		t.Errorf("DownRun tried %d times over %s; a host gone is given up at once", gone.tries.Load(), took)
	}
	back := &unreachable{Libvirt: vmtest.New(), refused: 3}
	if _, err := vm.DownRun(ctx, back, "r1", time.Minute); err != nil {
		t.Fatalf("DownRun with a libvirtd that came back: %v", err)
	}
	if back.tries.Load() != 4 {
		t.Errorf("DownRun tried %d times, want 4 (3 refused, then connected)", back.tries.Load())
	}
}
