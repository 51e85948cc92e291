package lab

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"

	"golang.org/x/sys/unix"
)

// NetnsDir is where `ip netns` keeps its named namespaces.
const NetnsDir = "/run/netns"

// Dialer is how the harness reaches guests: it opens sockets on the side of
// the lab where the guests' bridge lives, and can tell whether that bridge exists.
type Dialer interface {
	// DialContext connects to address, which must be a literal IP:port.
	DialContext(ctx context.Context, network, address string) (net.Conn, error)
	// CheckBridge returns an error naming the fix unless bridge is a Linux
	// bridge on the dialer's side of the lab.
	CheckBridge(ctx context.Context, bridge string) error
}

// NamespaceDialer dials from inside the named network namespace. It fails
// closed: if the namespace is missing or is the caller's own, it returns an
// error and never falls back to the host namespace.
func NamespaceDialer(namespace string) Dialer { return nsDialer{ns: namespace} }

// nsDialer dials from namespace ns; the bridge guests attach to lives in
// bridgeNS, or in ns when that is "".
type nsDialer struct{ ns, bridgeNS string }

func (d nsDialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	if _, err := netip.ParseAddrPort(address); err != nil {
		// A name would be resolved by whatever resolver the namespace has; guests are
		// always addressed by IP, so refuse instead of guessing.
		return nil, fmt.Errorf("lab dialer: %q is not a literal IP:port", address)
	}
	var conn net.Conn
	err := d.inNamespace(func() error {
		var err error
		// The socket is created on this thread, hence in the namespace; connect
		// may finish on the netpoller, which does not matter once it exists.
		conn, err = (&net.Dialer{}).DialContext(ctx, network, address)
		return err
	})
	return conn, err
}

func (d nsDialer) CheckBridge(ctx context.Context, bridge string) error {
	f, err := openNamespace(d.ns)
	if err != nil {
		return err
	}
	f.Close()
	return checkBridge(ctx, Local, cmp.Or(d.bridgeNS, d.ns), bridge)
}

// inNamespace runs fn on a dedicated OS thread switched into the namespace.
// If the thread cannot be switched back, it stays locked so that the Go
// runtime discards it with its goroutine instead of reusing it elsewhere.
func (d nsDialer) inNamespace(fn func() error) error {
	target, err := openNamespace(d.ns)
	if err != nil {
		return err
	}
	defer target.Close()

	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			runtime.UnlockOSThread()
			done <- fmt.Errorf("lab dialer: %w", err)
			return
		}
		defer orig.Close()
		if same, err := sameNamespace(orig, target); err != nil || same {
			runtime.UnlockOSThread()
			if err == nil {
				err = fmt.Errorf("lab dialer: netns %s is the caller's own namespace; refusing to dial from it (recreate it with `e2e lab down && e2e lab up`)", d.ns)
			}
			done <- err
			return
		}
		if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			done <- fmt.Errorf("lab dialer: entering netns %s: %w", d.ns, err)
			return
		}
		fnErr := fn()
		if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err != nil {
			// Never unlock: this thread must die with the goroutine.
			done <- errors.Join(fnErr, fmt.Errorf("lab dialer: leaving netns %s: %w", d.ns, err))
			return
		}
		runtime.UnlockOSThread()
		done <- fnErr
	}()
	return <-done
}

// openNamespace opens a named namespace, or explains how to create it.
func openNamespace(ns string) (*os.File, error) {
	f, err := os.Open(filepath.Join(NetnsDir, ns))
	if err != nil {
		return nil, fmt.Errorf("netns %s does not exist (%w); bring the lab up with `e2e lab up`", ns, err)
	}
	var st unix.Statfs_t
	if err := unix.Fstatfs(int(f.Fd()), &st); err != nil || st.Type != unix.NSFS_MAGIC {
		f.Close()
		return nil, fmt.Errorf("%s is not a live network namespace (stale file?); run `e2e lab down && e2e lab up`", f.Name())
	}
	return f, nil
}

func sameNamespace(a, b *os.File) (bool, error) {
	var sa, sb unix.Stat_t
	if err := unix.Fstat(int(a.Fd()), &sa); err != nil {
		return false, err
	}
	if err := unix.Fstat(int(b.Fd()), &sb); err != nil {
		return false, err
	}
	return sa.Dev == sb.Dev && sa.Ino == sb.Ino, nil
}

// HostDialer dials from the caller's own namespace, for a runner whose bridge
// and libvirtd are the host's (a KVM runner). It fails closed too: it dials
// only addresses inside a prefix that the bridge itself carries, so traffic
// can never leave through another interface.
func HostDialer(bridge string) Dialer { return hostDialer{bridge: bridge} }

type hostDialer struct{ bridge string }

func (d hostDialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return nil, fmt.Errorf("lab dialer: %q is not a literal IP:port", address)
	}
	ifc, err := net.InterfaceByName(d.bridge)
	if err != nil {
		return nil, fmt.Errorf("lab dialer: bridge %s: %w; create it or use the netns lab (`e2e lab up`)", d.bridge, err)
	}
	addrs, err := ifc.Addrs()
	if err != nil {
		return nil, fmt.Errorf("lab dialer: addresses of %s: %w", d.bridge, err)
	}
	for _, a := range addrs {
		if p, err := netip.ParsePrefix(a.String()); err == nil && p.Masked().Contains(ap.Addr()) {
			return (&net.Dialer{}).DialContext(ctx, network, address)
		}
	}
	return nil, fmt.Errorf("lab dialer: %s is not on bridge %s (it carries %v); refusing to route it elsewhere", ap.Addr(), d.bridge, addrs)
}

func (d hostDialer) CheckBridge(ctx context.Context, bridge string) error {
	return checkBridge(ctx, Local, "", bridge)
}
