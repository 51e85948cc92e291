package lab

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"

	libvirt "github.com/digitalocean/go-libvirt"
	"github.com/digitalocean/go-libvirt/socket/dialers"
	"golang.org/x/sys/unix"

	"github.com/drivelab/drivelab/framework/wait"
)

// daemons are started in this order and stopped in reverse: libvirtd hands
// guests' consoles to virtlogd.
var daemons = []string{"virtlogd", "libvirtd"}

// process is a running process seen in /proc.
type process struct {
	pid  int
	name string
}

// pidFile is per namespace, so a lab never touches another lab's daemons.
func pidFile(ns, daemon string) string { return filepath.Join(RunDir, ns+"-"+daemon+".pid") }

// checkLibvirtd fails if a libvirtd runs outside the namespace: guests it
// starts would get their tap devices in its namespace, and it holds the socket.
func checkLibvirtd(c Config) error {
	running, err := processes("libvirtd")
	if err != nil {
		return err
	}
	_, outside, err := splitByNamespace(running, c.Namespace)
	if err != nil || len(outside) == 0 {
		return err
	}
	pid := outside[0].pid
	return fmt.Errorf("lab: libvirtd (pid %d) runs outside netns %s, so guests' tap devices would land in its namespace; stop it (kill %d) and run `e2e lab up` again, or, on a runner whose libvirtd and bridges are meant for guests, use E2E_LAB_MODE=host",
		pid, c.Namespace, pid)
}

// ensureDaemons starts virtlogd and libvirtd inside the namespace unless
// they already run there.
func ensureDaemons(ctx context.Context, c Config) error {
	out := c.progress()
	if err := keepDescriptorsFromDaemons(); err != nil {
		return fmt.Errorf("lab: %w", err)
	}
	for _, name := range daemons {
		running, err := processes(name)
		if err != nil {
			return err
		}
		inside, outside, err := splitByNamespace(running, c.Namespace)
		if err != nil {
			return err
		}
		switch {
		case len(inside) > 0:
			fmt.Fprintf(out, "lab: %s already runs in netns %s (pid %d)\n", name, c.Namespace, inside[0].pid)
			continue
		case len(outside) > 0 && name == "libvirtd":
			return checkLibvirtd(c)
		case len(outside) > 0:
			// virtlogd only writes console logs; it serves wherever it runs.
			fmt.Fprintf(out, "lab: %s already runs (pid %d, outside netns %s); using it\n", name, outside[0].pid, c.Namespace)
			continue
		}
		cmd := exec.CommandContext(ctx, "ip", "netns", "exec", c.Namespace, name, "--daemon", "--pid-file", pidFile(c.Namespace, name))
		// Without journald the daemons would log nowhere once detached.
		cmd.Env = append(os.Environ(), "LIBVIRT_LOG_OUTPUTS=3:file:/var/log/libvirt/"+name+".log")
		if b, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("lab: starting %s in netns %s: %w: %s", name, c.Namespace, err, strings.TrimSpace(string(b)))
		}
		pid, err := waitPidFile(ctx, c, name)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "lab: started %s in netns %s (pid %d, log /var/log/libvirt/%s.log)\n", name, c.Namespace, pid, name)
	}
	return nil
}

// waitPidFile waits until a daemon has written its pid file and runs.
func waitPidFile(ctx context.Context, c Config, name string) (int, error) {
	var pid int
	in := wait.Input{What: name + "'s pid file", Interval: c.Intervals.Poll, Timeout: c.Intervals.Command}
	err := wait.Until(ctx, in, func(context.Context) (bool, string, error) {
		var err error
		if pid, err = readPid(c.Namespace, name); err != nil {
			return false, err.Error(), nil
		}
		return true, "", nil
	})
	if err != nil {
		return 0, fmt.Errorf("lab: %s did not start within %s: %w; see /var/log/libvirt/%s.log", name, c.Intervals.Command, err, name)
	}
	return pid, nil
}

// readPid returns the pid from a daemon's pid file if that process still
// runs under the daemon's name (a stale file names a dead or reused pid).
func readPid(ns, name string) (int, error) {
	b, err := os.ReadFile(pidFile(ns, name))
	if err != nil {
		return 0, err
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 0, fmt.Errorf("%s: %w", pidFile(ns, name), err)
	}
	if comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid)); err != nil || strings.TrimSpace(string(comm)) != name || zombie(pid) {
		return 0, fmt.Errorf("%s: pid %d is not a running %s", pidFile(ns, name), pid, name)
	}
	return pid, nil
}

// waitLibvirt waits until libvirtd answers with a working QEMU driver, and
// gives up at once if libvirtd exits (it does when a driver fails to load).
func waitLibvirt(ctx context.Context, c Config) error {
	in := wait.Input{What: "libvirtd's QEMU driver", Interval: c.Intervals.Poll, Timeout: c.Intervals.Command}
	err := wait.Until(ctx, in, func(context.Context) (bool, string, error) {
		err := pingLibvirt(c.LibvirtSocket)
		switch {
		case err == nil:
			return true, "", nil
		case len(mustProcesses("libvirtd")) == 0:
			return false, "", fmt.Errorf("libvirtd exited: %s", lastError("/var/log/libvirt/libvirtd.log"))
		}
		return false, err.Error(), nil
	})
	if err != nil {
		return fmt.Errorf("lab: libvirtd does not answer on %s: %w; see /var/log/libvirt/libvirtd.log", c.LibvirtSocket, err)
	}
	fmt.Fprintf(c.progress(), "lab: libvirtd answers on %s\n", c.LibvirtSocket)
	return nil
}

func mustProcesses(name string) []process {
	ps, _ := processes(name)
	return ps
}

// lastError returns the last line logged at level error in a libvirt log.
func lastError(log string) string {
	b, err := os.ReadFile(log)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	for _, l := range slices.Backward(lines) {
		if _, msg, ok := strings.Cut(l, ": error : "); ok {
			return msg
		}
	}
	return "no error logged"
}

// pingLibvirt connects to qemu:///system, which fails if the QEMU driver did
// not load (for instance when the libvirt-qemu user is missing).
func pingLibvirt(socket string) error {
	l := libvirt.NewWithDialer(dialers.NewLocal(dialers.WithSocket(socket)))
	if err := l.ConnectToURI(libvirt.QEMUSystem); err != nil {
		return err
	}
	defer l.Disconnect()
	_, err := l.ConnectGetCapabilities()
	return err
}

// stopDaemons stops the daemons whose pid files the lab wrote.
func stopDaemons(ctx context.Context, c Config) error {
	for _, name := range slices.Backward(daemons) {
		pid, err := readPid(c.Namespace, name)
		if err != nil {
			os.Remove(pidFile(c.Namespace, name))
			continue
		}
		if err := stop(ctx, c, process{pid, name}); err != nil {
			return err
		}
		os.Remove(pidFile(c.Namespace, name))
		fmt.Fprintf(c.progress(), "lab: stopped %s (pid %d)\n", name, pid)
	}
	return nil
}

// killAll stops processes, for `lab down --force`.
func killAll(ctx context.Context, c Config, ps []process) error {
	for _, p := range ps {
		if err := stop(ctx, c, p); err != nil {
			return err
		}
		fmt.Fprintf(c.progress(), "lab: killed %s (pid %d)\n", p.name, p.pid)
	}
	return nil
}

// stop sends SIGTERM, and SIGKILL if the process outlives Intervals.Teardown.
func stop(ctx context.Context, c Config, p process) error {
	if err := syscall.Kill(p.pid, syscall.SIGTERM); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("lab: stopping %s (pid %d): %w", p.name, p.pid, err)
	}
	in := wait.Input{What: fmt.Sprintf("%s (pid %d) to exit", p.name, p.pid), Interval: c.Intervals.Poll, Timeout: c.Intervals.Teardown}
	gone := func(context.Context) (bool, string, error) {
		return !alive(p.pid), "it still runs", nil
	}
	if wait.Until(ctx, in, gone) == nil {
		return nil
	}
	syscall.Kill(p.pid, syscall.SIGKILL)
	if err := wait.Until(ctx, in, gone); err != nil {
		return fmt.Errorf("lab: %s (pid %d) survived SIGKILL: %w", p.name, p.pid, err)
	}
	return nil
}

// othersInNamespace lists the processes in the namespace that are not the
// lab's own daemons: guests, or anything someone started there.
func othersInNamespace(ns string) ([]process, error) {
	all, err := processes("")
	if err != nil {
		return nil, err
	}
	inside, _, err := splitByNamespace(all, ns)
	if err != nil {
		return nil, err
	}
	var own []int
	for _, name := range daemons {
		if pid, err := readPid(ns, name); err == nil {
			own = append(own, pid)
		}
	}
	return slices.DeleteFunc(inside, func(p process) bool { return slices.Contains(own, p.pid) }), nil
}

// processes lists running processes named name ("" for all). A daemon
// looked up by name counts only if it sees this machine's /run/libvirt: one
// with a /run/libvirt of its own (a simulated host's, hack/sim-hosts, in
// a mount namespace of its own) is no concern of this lab's. (The lab's
// daemons, started by `ip netns exec`, have a mount namespace of their own
// too, but the same /run/libvirt.)
func processes(name string) ([]process, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	var own unix.Stat_t
	ownErr := unix.Stat(libvirtRunDir, &own)
	var out []process
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		if name != "" && ownErr == nil && !sameFile(filepath.Join("/proc", e.Name(), "root", libvirtRunDir), own) {
			continue
		}
		comm, err := os.ReadFile(filepath.Join("/proc", e.Name(), "comm"))
		if err != nil || zombie(pid) {
			continue
		}
		if n := strings.TrimSpace(string(comm)); name == "" || n == name {
			out = append(out, process{pid, n})
		}
	}
	return out, nil
}

// splitByNamespace splits processes by whether they live in the named namespace.
func splitByNamespace(ps []process, ns string) (inside, outside []process, err error) {
	var nsStat unix.Stat_t
	if err := unix.Stat(filepath.Join(NetnsDir, ns), &nsStat); err != nil {
		return nil, ps, nil // no namespace: everything is outside it
	}
	for _, p := range ps {
		var st unix.Stat_t
		if err := unix.Stat(fmt.Sprintf("/proc/%d/ns/net", p.pid), &st); err != nil {
			continue // exited meanwhile
		}
		if st.Dev == nsStat.Dev && st.Ino == nsStat.Ino {
			inside = append(inside, p)
		} else {
			outside = append(outside, p)
		}
	}
	return inside, outside, nil
}

func alive(pid int) bool {
	return syscall.Kill(pid, 0) == nil && !zombie(pid)
}

// zombie reports an exited process not yet reaped: PID 1 here may not reap
// the daemons it inherits, so such a pid counts as gone.
func zombie(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// The state follows the command name, which is in parentheses.
	i := strings.LastIndexByte(string(b), ')')
	return i > 0 && i+2 < len(b) && b[i+2] == 'Z'
}

func describe(ps []process) string {
	parts := make([]string, len(ps))
	for i, p := range ps {
		parts[i] = fmt.Sprintf("%s pid %d", p.name, p.pid)
	}
	return strings.Join(parts, ", ")
}

// RestartLibvirtd stops the lab's libvirtd and starts it again, as a crash
// and a supervisor's restart would; running guests survive it. It is how the
// fault drills take libvirtd away in the middle of a boot.
func RestartLibvirtd(ctx context.Context, c Config) error {
	pid, err := readPid(c.Namespace, "libvirtd")
	if err != nil {
		return fmt.Errorf("lab: libvirtd is not running in netns %s: %w", c.Namespace, err)
	}
	if err := stop(ctx, c, process{pid, "libvirtd"}); err != nil {
		return err
	}
	os.Remove(pidFile(c.Namespace, "libvirtd"))
	if err := ensureDaemons(ctx, c); err != nil {
		return err
	}
	return waitLibvirt(ctx, c)
}

// libvirtRunDir holds libvirtd's and virtlogd's sockets.
const libvirtRunDir = "/run/libvirt"

// sameFile reports whether path is the file st describes.
func sameFile(path string, st unix.Stat_t) bool {
	var other unix.Stat_t
	return unix.Stat(path, &other) == nil && other.Dev == st.Dev && other.Ino == st.Ino
}
