package vm

import (
	"context"
	"errors"
	"runtime"
	"slices"
	"sync"
	"time"

	libvirt "github.com/digitalocean/go-libvirt"
	"github.com/digitalocean/go-libvirt/socket"
)

// Host is the machine libvirtd runs the guests on when that is not this
// one (a remote host over SSH): what vm would otherwise read from this
// machine's /proc and files. A nil *Host in BootInput is this machine.
type Host struct {
	// Name names the host in messages.
	Name string
	// Cores, MemTotalMiB and MemAvailableMiB are its CPUs and memory,
	// Load its load average: admission, the preflight and the deadline
	// scale use them.
	Cores, MemTotalMiB, MemAvailableMiB int
	Load                                float64
	// ConsoleDir is where its virtlogd writes the guests' consoles: a
	// folder of the pool, so that what removes a run's volumes removes
	// them too.
	ConsoleDir string
	// Follow copies the host's file at path into local as it grows, until
	// ctx ends: the console the boot's judgement and the artifacts read.
	Follow func(ctx context.Context, path, local string) error
}

// ErrHostGone marks an error of a host that cannot be reached at all (its
// SSH refuses or times out): waiting for its libvirtd to come back is
// pointless, and what the run left there is reaped by the next run on it.
var ErrHostGone = errors.New("host unreachable")

// consoleVolume is where a remote host's virtlogd writes a node's console,
// in the pool beside its disks.
func consoleVolume(run, node string) string { return DomainName(run, node) + ".console.log" }

// hostCores and hostMemory are the host's, this machine's without a Host.
func (in BootInput) hostCores() int {
	if in.Host != nil {
		return in.Host.Cores
	}
	return runtime.NumCPU()
}

func (in BootInput) hostLoad() float64 {
	if in.Host != nil {
		return in.Host.Load
	}
	return hostLoad()
}

// followers copy a remote host's consoles here while the run lives, by node.
type followers struct {
	mu   sync.Mutex
	stop map[string]func()
}

// follow copies the host's console at path into local until stopped.
func (f *followers) follow(h *Host, node, path, local string) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		h.Follow(ctx, path, local) // its end is the run's: nothing to report
	}()
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.stop == nil {
		f.stop = map[string]func(){}
	}
	f.stop[node] = (func() {
		cancel()
		select {
		case <-done:
		case <-time.After(5 * time.Second): // a lost host: do not wait on it
		}
	})
}

// stopNodes stops the copies of the nodes (nil: all).
func (f *followers) stopNodes(nodes []string) {
	f.mu.Lock()
	var stops []func()
	for node, stop := range f.stop {
		if nodes == nil || slices.Contains(nodes, node) {
			stops = append(stops, stop)
			delete(f.stop, node)
		}
	}
	f.mu.Unlock()
	for _, s := range stops {
		s()
	}
}

// ConnectWith opens qemu:///system through dialer (a remote host's
// libvirtd over SSH); where names it in errors.
func ConnectWith(ctx context.Context, dialer socket.Dialer, where string) (*libvirt.Libvirt, error) {
	return connect(ctx, dialer, where, "check that libvirtd runs there (`virsh -c URI version`)")
}
