package inputfile

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Only regular files are read, each named with what it is instead; none of
// them blocks or reads without end.
func TestReadRefusesWhatIsNotAFile(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for path, want := range map[string]string{
		fifo:        "topology " + fifo + " is a named pipe (FIFO)",
		"/dev/zero": "topology /dev/zero is a device",
		sock:        "topology " + sock + " is a socket",
		dir:         "topology " + dir + " is a folder",
	} {
		done := make(chan error, 1)
		go func() { _, err := Read(path, "topology", MaxTopology); done <- err }()
		select {
		case err := <-done:
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("%s: error %v, want %q", path, err, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: Read still reading after 5 s", path)
		}
	}
}

// A symlink to a regular file is read; a file over the limit is not.
func TestReadFollowsLinksAndLimits(t *testing.T) {
	dir := t.TempDir()
	file, link := filepath.Join(dir, "t.yaml"), filepath.Join(dir, "link.yaml")
	if err := os.WriteFile(file, []byte("network: {}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(file, link); err != nil {
		t.Fatal(err)
	}
	if data, err := Read(link, "topology", MaxTopology); err != nil || string(data) != "network: {}\n" {
		t.Errorf("through a symlink: %q, %v", data, err)
	}
	if _, err := Read(file, "topology", 4); err == nil || !strings.Contains(err.Error(), "topology "+file+" is over 4 bytes") {
		t.Errorf("over the limit: %v", err)
	}
	_, err := Read(filepath.Join(dir, "missing"), "topology", MaxTopology)
	if !errors.Is(err, os.ErrNotExist) || !strings.HasPrefix(err.Error(), "topology "+dir) {
		t.Errorf("missing: %v", err)
	}
}
