package vm

import (
	"context"
	"errors"
	"fmt"
	"os"

	"slices"
	"strings"

	libvirt "github.com/digitalocean/go-libvirt"
	"github.com/digitalocean/go-libvirt/socket"
	"github.com/digitalocean/go-libvirt/socket/dialers"
	"libvirt.org/go/libvirtxml"

	"github.com/drivelab/drivelab/framework/config"
)

// Connect opens qemu:///system over libvirtd's unix socket. The caller
// closes it with Disconnect.
func Connect(ctx context.Context, sock string) (*libvirt.Libvirt, error) {
	return connect(ctx, dialers.NewLocal(dialers.WithSocket(sock)), sock,
		"start the lab with `e2e lab up` (or point E2E_LIBVIRT_SOCKET at a running libvirtd)")
}

func connect(ctx context.Context, dialer socket.Dialer, where, fix string) (*libvirt.Libvirt, error) {
	type result struct {
		l   *libvirt.Libvirt
		err error
	}
	done := make(chan result, 1)
	// go-libvirt takes no context; the dial and handshake run aside so that
	// ctx (Ctrl-C) still ends the wait.
	go func() {
		l := libvirt.NewWithDialer(dialer)
		done <- result{l, l.ConnectToURI(libvirt.QEMUSystem)}
	}()
	select {
	case r := <-done:
		if r.err != nil {
			return nil, fmt.Errorf("libvirtd is not reachable on %s: %w; %s", where, r.err, fix)
		}
		return r.l, nil
	case <-ctx.Done():
		go func() { // close the connection should it still open
			if r := <-done; r.err == nil {
				r.l.Disconnect()
			}
		}()
		return nil, fmt.Errorf("connecting to libvirtd on %s: %w", where, context.Cause(ctx))
	}
}

// Accel returns the accelerator guests get: kvm when libvirt offers the kvm
// domain type for x86_64 and the CPU has hardware virtualization behind a
// /dev/kvm that opens, else TCG emulation. A forced accelerator
// (config.Settings.Accel, E2E_ACCEL) wins; "" detects.
func Accel(conn Libvirt, forced config.Accel) (config.Accel, error) {
	switch forced {
	case config.AccelKVM, config.AccelTCG:
		return forced, nil
	case "":
	default:
		return "", fmt.Errorf("E2E_ACCEL=%q: want %q or %q, or unset to detect", forced, config.AccelKVM, config.AccelTCG)
	}
	capsXML, err := conn.ConnectGetCapabilities()
	if err != nil {
		return "", fmt.Errorf("libvirt capabilities: %w", err)
	}
	return AccelFrom(capsXML, kvmUsable()), nil
}

// AccelFrom is the accelerator a host gives guests: kvm when its libvirt
// capabilities (capsXML) offer the kvm domain type for x86_64 and its
// kvmDevice is usable (a /dev/kvm and the vmx or svm CPU flag).
func AccelFrom(capsXML string, kvmDevice bool) config.Accel {
	var caps libvirtxml.Caps
	if err := caps.Unmarshal(capsXML); err != nil || !kvmDevice {
		return config.AccelTCG
	}
	for _, g := range caps.Guests {
		if g.Arch.Name != "x86_64" || g.OSType != "hvm" {
			continue
		}
		for _, d := range g.Arch.Domains {
			if d.Type == DomainKVM {
				return config.AccelKVM
			}
		}
	}
	return config.AccelTCG
}

// kvmUsable needs both a /dev/kvm that opens and the vmx or svm CPU flag: a
// /dev/kvm without them (kvm_pvm, found on some sandboxes) runs only
// specially built guest kernels, and a stock kernel hangs early in boot.
func kvmUsable() bool {
	f, err := os.OpenFile("/dev/kvm", os.O_RDWR, 0)
	if err != nil {
		return false
	}
	f.Close()
	cpuinfo, err := os.ReadFile("/proc/cpuinfo")
	return err == nil && hasVirtFlag(string(cpuinfo))
}

func hasVirtFlag(cpuinfo string) bool {
	for _, line := range strings.Split(cpuinfo, "\n") {
		if name, flags, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(name) == "flags" {
			f := strings.Fields(flags)
			return slices.Contains(f, "vmx") || slices.Contains(f, "svm")
		}
	}
	return false
}

// hasCode reports whether err is libvirt's error with one of the codes.
func hasCode(err error, codes ...libvirt.ErrorNumber) bool {
	var e libvirt.Error
	return errors.As(err, &e) && slices.Contains(codes, libvirt.ErrorNumber(e.Code))
}

// isNotFound reports libvirt's "no such domain/volume/pool" errors.
func isNotFound(err error) bool {
	return hasCode(err, libvirt.ErrNoDomain, libvirt.ErrNoStorageVol, libvirt.ErrNoStoragePool)
}
