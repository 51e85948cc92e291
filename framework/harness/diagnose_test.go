package harness

import (
	"bufio"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestHaproxyStatsReadsTheSocketTheConfigNames runs the diagnostic's script
// on this host: the first config is missing (as /etc/haproxy/haproxy.cfg is
// on a CentOS guest), the second names a socket that answers `show stat`.
func TestHaproxyStatsReadsTheSocketTheConfigNames(t *testing.T) {
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("no python3 on this host")
	}
	dir := t.TempDir()
	sock := filepath.Join(dir, "sock")
	cfg := filepath.Join(dir, "haproxy.cfg")
	if err := os.WriteFile(cfg, []byte("global\n    stats socket "+sock+" mode 0666 level user\n"), 0o644); err != nil {
		t.Fatal(err)
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
	out, err := exec.Command("bash", "-c", haproxyStats([]string{filepath.Join(dir, "missing.cfg"), cfg})).CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !strings.Contains(string(out), "== "+sock) || !strings.Contains(string(out), "web,web01,0,10,UP") {
		t.Fatalf("stats dump misses the socket or its answer:\n%s", out)
	}
}
