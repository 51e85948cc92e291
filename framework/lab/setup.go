package lab

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
)

// ensurePackages installs the Debian packages that are missing (the Go
// counterpart of hack/ensure-packages, so `e2e lab up` works on its own).
func ensurePackages(ctx context.Context, out io.Writer, pkgs []string) error {
	var missing []string
	for _, p := range pkgs {
		status, _ := exec.CommandContext(ctx, "dpkg-query", "-W", "-f=${Status}", p).Output()
		if string(status) != "install ok installed" {
			missing = append(missing, p)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	fmt.Fprintf(out, "lab: installing %s from Debian\n", strings.Join(missing, " "))
	env := append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
	for _, args := range [][]string{
		{"update", "-qq"},
		append([]string{"install", "-y", "-qq", "--no-install-recommends"}, missing...),
	} {
		// Runs started at once on a fresh machine wait for each other's dpkg lock.
		cmd := exec.CommandContext(ctx, "apt-get", append([]string{"-o", "DPkg::Lock::Timeout=600"}, args...)...)
		cmd.Env = env
		if b, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("lab: apt-get %s: %w: %s; install them by hand: apt-get install %s",
				args[0], err, tail(b), strings.Join(missing, " "))
		}
	}
	return nil
}

// ensureQemuUser creates the user and groups libvirt's QEMU driver runs
// guests as (Debian builds it for user and group libvirt-qemu). Debian
// creates them in libvirt-daemon-system, which needs systemd; without them
// the driver fails with "Failed to parse group 'libvirt-qemu'".
func ensureQemuUser(ctx context.Context, out io.Writer) error {
	for _, group := range []string{"kvm", "libvirt-qemu"} {
		if exec.CommandContext(ctx, "getent", "group", group).Run() != nil {
			if err := run(ctx, Local, "groupadd", "--system", group); err != nil {
				return err
			}
			fmt.Fprintf(out, "lab: created group %s\n", group)
		}
	}
	if exec.CommandContext(ctx, "getent", "passwd", "libvirt-qemu").Run() != nil {
		if err := run(ctx, Local, "useradd", "--system", "--gid", "libvirt-qemu", "--groups", "kvm", "--home-dir", "/var/lib/libvirt",
			"--no-create-home", "--shell", "/usr/sbin/nologin", "libvirt-qemu"); err != nil {
			return err
		}
		fmt.Fprintln(out, "lab: created user libvirt-qemu")
	}
	return nil
}

// ensureKVMDevice gives /dev/kvm the owner and mode Debian's udev rule
// gives it (root:kvm 0660). Without udev it stays root-only, and libvirtd
// then finds KVM "enabled when probing but not available now" for the qemu
// user on every call: it re-probes every QEMU binary each time, which makes
// a capabilities call take seconds and a domain definition most of a minute.
func ensureKVMDevice(ctx context.Context, out io.Writer) error {
	st, err := os.Stat("/dev/kvm")
	if err != nil {
		return nil // no KVM: guests use TCG, and libvirt agrees
	}
	gid, err := exec.CommandContext(ctx, "getent", "group", "kvm").Output()
	if err != nil {
		return fmt.Errorf("lab: group kvm: %w", err)
	}
	fields := strings.Split(strings.TrimSpace(string(gid)), ":")
	if len(fields) < 3 {
		return fmt.Errorf("lab: getent group kvm: unexpected %q", gid)
	}
	sys, ok := st.Sys().(*syscall.Stat_t)
	if ok && strconv.Itoa(int(sys.Gid)) == fields[2] && st.Mode().Perm() == 0o660 {
		return nil
	}
	if err := run(ctx, Local, "chown", "root:kvm", "/dev/kvm"); err != nil {
		return err
	}
	if err := os.Chmod("/dev/kvm", 0o660); err != nil {
		return fmt.Errorf("lab: %w", err)
	}
	fmt.Fprintln(out, "lab: /dev/kvm set to root:kvm 0660 (as Debian's udev rule does)")
	return nil
}

// tail returns the last few lines of command output, for error messages.
func tail(b []byte) string {
	var lines []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	return strings.Join(lines[max(0, len(lines)-5):], "\n")
}
