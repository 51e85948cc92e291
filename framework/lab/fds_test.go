package lab

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// A descriptor the caller left open (as flock(1) does) must not reach a
// process the lab starts.
func TestDaemonsDoNotInheritDescriptors(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	// os.Pipe sets close-on-exec; clear it, as on a descriptor inherited from the caller.
	flags, err := unix.FcntlInt(w.Fd(), unix.F_GETFD, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := unix.FcntlInt(w.Fd(), unix.F_SETFD, flags&^unix.FD_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	fd := " " + strconv.Itoa(int(w.Fd())) + " "
	childFDs := func() string {
		out, _ := exec.Command("sh", "-c", "ls /proc/self/fd").Output()
		return " " + strings.Join(strings.Fields(string(out)), " ") + " "
	}
	if !strings.Contains(childFDs(), fd) {
		t.Fatalf("setup: a child does not see fd%s; the test would prove nothing", fd)
	}
	if err := keepDescriptorsFromDaemons(); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(childFDs(), fd) {
		t.Fatalf("fd%sstill reaches child processes", fd)
	}
}
