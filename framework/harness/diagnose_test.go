package harness

import (
	"bufio"
	"net"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/drivelab/drivelab/framework/verify"
)

// TestHaproxyStatsReadsTheSocketTheDriveConfigured finds the stats socket in
// the files a drive carried (the config is not the first of them, a package
// has no data) and runs the diagnostic's script on this host against a
// socket that answers `show stat`.
func TestHaproxyStatsReadsTheSocketTheDriveConfigured(t *testing.T) {
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("no python3 on this host")
	}
	sock := filepath.Join(t.TempDir(), "sock")
	files := []verify.File{
		{Name: "hosts", Data: []byte("127.0.0.1 localhost\n")},
		{Name: "haproxy-package"},
		{Name: "haproxy-config", Data: []byte("global\n    stats socket " + sock + " mode 0666 level user\n")},
	}
	sockets := statsSockets(files)
	if !slices.Equal(sockets, []string{sock}) {
		t.Fatalf("stats sockets %q, want [%s]", sockets, sock)
	}
	if got := statsSockets(files[:2]); got != nil {
		t.Fatalf("stats sockets %q from files without a haproxy config, want none", got)
	}
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		if line, _ := bufio.NewReader(c).ReadString('\n'); line == "show stat\n" {
			c.Write([]byte("# pxname,svname,scur,stot,status\nweb,web01,0,10,UP\n"))
		}
	}()
	out, err := exec.Command("bash", "-c", haproxyStats(sockets)).CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !strings.Contains(string(out), "== "+sock) || !strings.Contains(string(out), "web,web01,0,10,UP") {
		t.Fatalf("stats dump misses the socket or its answer:\n%s", out)
	}
}
