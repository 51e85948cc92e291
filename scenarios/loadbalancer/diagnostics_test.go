package loadbalancer

import (
	"bufio"
	"net"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/drivelab/drivelab/framework/testenv"
	"github.com/drivelab/drivelab/framework/verify"
	"github.com/drivelab/drivelab/scenarios/checks/checktest"
)

// The load balancer's stats dump finds the stats sockets in the haproxy.cfg
// its drive carried (not the first file, next to a package without data),
// writes nothing for a node without one, and its command, run by bash on
// this host against a socket that answers `show stat`, prints the answer.
func TestHaproxyStatsDumpReadsTheSocketTheDriveConfigured(t *testing.T) {
	testenv.Tool(t, "python3")
	topo := checktest.Reference(t, root)
	sock := filepath.Join(t.TempDir(), "it's.sock")
	env := &verify.Env{Topology: topo, Files: map[string][]verify.File{
		"haproxy": {
			{Name: "hosts", Data: []byte("127.0.0.1 localhost\n")},
			{Name: "haproxy-package"},
			{Name: haproxyConfigFile, Data: []byte("global\n    stats socket " + sock + " mode 0666 level user\n")},
		},
		"web01": {{Name: "hosts", Data: []byte("stats socket /tmp/not-haproxy\n")}},
	}}
	if got := parseHaproxyConfig(env.Files["haproxy"][2].Data).socketPaths(); !slices.Equal(got, []string{sock}) {
		t.Fatalf("stats sockets %q, want [%s]", got, sock)
	}
	if cmd := haproxyStatsDump(env, checktest.Node(t, topo, "web01")); cmd != "" {
		t.Fatalf("web01 carried no haproxy.cfg, yet its stats dump is %q", cmd)
	}
	cmd := haproxyStatsDump(env, checktest.Node(t, topo, "haproxy"))
	if cmd == "" {
		t.Fatal("haproxy carried a stats socket, yet its stats dump is empty")
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
	out, err := exec.Command("bash", "-c", cmd).CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !strings.Contains(string(out), "== "+sock) || !strings.Contains(string(out), "web,web01,0,10,UP") {
		t.Fatalf("stats dump misses the socket or its answer:\n%s", out)
	}
}
