package lab

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
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
		cmd := exec.CommandContext(ctx, "apt-get", args...)
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
			if err := run(ctx, "groupadd", "--system", group); err != nil {
				return err
			}
			fmt.Fprintf(out, "lab: created group %s\n", group)
		}
	}
	if exec.CommandContext(ctx, "getent", "passwd", "libvirt-qemu").Run() != nil {
		if err := run(ctx, "useradd", "--system", "--gid", "libvirt-qemu", "--groups", "kvm", "--home-dir", "/var/lib/libvirt",
			"--no-create-home", "--shell", "/usr/sbin/nologin", "libvirt-qemu"); err != nil {
			return err
		}
		fmt.Fprintln(out, "lab: created user libvirt-qemu")
	}
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
