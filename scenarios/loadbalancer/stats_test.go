package loadbalancer

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/drivelab/drivelab/framework/config"
	"github.com/drivelab/drivelab/framework/testenv"
	"github.com/drivelab/drivelab/framework/verify"
	"github.com/drivelab/drivelab/scenarios/checks/checktest"
)

// root is the repository root, from this package.
const root = "../.."

const seedHaproxy = `global
   stats socket /tmp/sock mode 0666 level user
backend 8f09dbaf-0c78-48f1-8b80-662e75036485
   balance leastconn
   server 0c7d3741-df7b-4bf3-9396-14cc3c05b5a5 web01.cloud.org weight 100
   server 44c18162-301e-42f3-9f0a-5522f426412f web02.cloud.org:80 weight 100
`

func TestHaproxyStats(t *testing.T) {
	topo := checktest.Reference(t, root)
	src, err := statsSourceOf(parseHaproxyConfig([]byte(seedHaproxy)), topo)
	if err != nil {
		t.Fatal(err)
	}
	if src.Socket != "/tmp/sock" || src.Nodes["0c7d3741-df7b-4bf3-9396-14cc3c05b5a5"] != "web01" || src.Nodes["44c18162-301e-42f3-9f0a-5522f426412f"] != "web02" {
		t.Fatalf("parsed %+v", src)
	}
	_, err = statsSourceOf(parseHaproxyConfig([]byte(strings.Replace(seedHaproxy, "web02.cloud.org:80", "web09.cloud.org", 1))), topo)
	checktest.WantErr(t, err, "points at web09.cloud.org, which is no node")
	_, err = statsSourceOf(parseHaproxyConfig([]byte(strings.Replace(seedHaproxy, "stats socket", "#", 1))), topo)
	checktest.WantErr(t, err, "no `stats socket`")

	csv := "# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,status\n" +
		"c4c4,FRONTEND,,,0,1,100,20,0,OPEN\n" +
		"8f09,0c7d3741-df7b-4bf3-9396-14cc3c05b5a5,0,0,1,1,,11,0,UP\n" +
		"8f09,44c18162-301e-42f3-9f0a-5522f426412f,0,0,0,1,,9,0,DOWN 1/2\n" +
		"8f09,BACKEND,0,0,1,1,10,20,0,UP\n"
	stats, err := parseStats(csv, src)
	if err != nil {
		t.Fatal(err)
	}
	if stats["web01"] != (serverStats{Current: 1, Total: 11, Status: "UP"}) || stats["web02"] != (serverStats{Current: 0, Total: 9, Status: "DOWN 1/2"}) {
		t.Fatalf("stats = %+v", stats)
	}
	_, err = parseStats("Unknown command\n", src)
	checktest.WantErr(t, err, "lack the svname column")
}

// The stats reader's own python runs on this host, as on the load balancer,
// against a socket that answers `show stat` as haproxy's does.

// fakeStatsSocket serves `show stat` at path; each answer counts one more
// session on web01. With hang it accepts and never answers.
func fakeStatsSocket(t *testing.T, path string, hang bool) *atomic.Int32 {
	t.Helper()
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	var served atomic.Int32
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			if hang {
				t.Cleanup(func() { c.Close() })
				continue
			}
			req, _ := bufio.NewReader(c).ReadString('\n')
			if req == "show stat\n" {
				fmt.Fprintf(c, "# pxname,svname,scur,stot,status\n8f09,0c7d3741-df7b-4bf3-9396-14cc3c05b5a5,0,%d,UP\n\n", served.Add(1))
			}
			c.Close()
		}
	}()
	return &served
}

// localStatsReader runs statsServerCommand with sh on this host.
func localStatsReader(t *testing.T, socket string, timeout time.Duration) (*statsReader, *exec.Cmd) {
	t.Helper()
	err := exec.Command("sh", "-c", pythonPath+" -c pass").Run()
	testenv.Need(t, err == nil, "no python3 or python on this host: %v", err)
	src, err := statsSourceOf(parseHaproxyConfig([]byte(seedHaproxy)), checktest.Reference(t, root))
	if err != nil {
		t.Fatal(err)
	}
	src.Socket = socket
	r, cmd := localResponder(t, "the haproxy stats reader", statsServerCommand(socket), statsEnd, timeout)
	return &statsReader{responder: r, src: src}, cmd
}

func TestStatsReaderReadsFreshStatsFromOneProcess(t *testing.T) {
	socket := filepath.Join(t.TempDir(), "sock")
	served := fakeStatsSocket(t, socket, false)
	r, _ := localStatsReader(t, socket, 10*time.Second)
	for want := 1; want <= 3; want++ {
		stats, err := r.read(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if got := stats["web01"]; got.Total != want || got.Status != "UP" {
			t.Fatalf("read %d: web01 %+v, want %d sessions", want, got, want)
		}
	}
	if served.Load() != 3 {
		t.Fatalf("the socket served %d times for 3 reads", served.Load())
	}
}

// A socket that cannot be read is an error of that read only: haproxy may
// come back, and the reader with it.
func TestStatsReaderOutlivesAnUnreadableSocket(t *testing.T) {
	socket := filepath.Join(t.TempDir(), "sock")
	r, _ := localStatsReader(t, socket, 10*time.Second)
	_, err := r.read(context.Background())
	checktest.WantErr(t, err, "reading haproxy stats from "+socket+": [Errno 2] No such file or directory")
	fakeStatsSocket(t, socket, false)
	if _, err := r.read(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// A reader that died says so, and a wait on it ends at once rather than
// when its limit passes.
func TestStatsReaderThatDiedEndsTheWait(t *testing.T) {
	socket := filepath.Join(t.TempDir(), "sock")
	fakeStatsSocket(t, socket, false)
	r, cmd := localStatsReader(t, socket, 10*time.Second)
	if _, err := r.read(context.Background()); err != nil {
		t.Fatal(err)
	}
	cmd.Process.Kill()
	env := &verify.Env{Intervals: config.Intervals{Poll: 10 * time.Millisecond}}
	start := time.Now()
	_, err := waitForStats(context.Background(), env, r, time.Minute, func(map[string]serverStats) bool { return false })
	checktest.WantErr(t, err, "the haproxy stats reader ended")
	if waited := time.Since(start); waited > 5*time.Second {
		t.Fatalf("the wait on a dead reader took %s", waited)
	}
}

// waitForStats polls until done accepts what it read.
func TestWaitForStatsPollsUntilDone(t *testing.T) {
	socket := filepath.Join(t.TempDir(), "sock")
	fakeStatsSocket(t, socket, false)
	r, _ := localStatsReader(t, socket, 10*time.Second)
	env := &verify.Env{Intervals: config.Intervals{Poll: 10 * time.Millisecond}}
	stats, err := waitForStats(context.Background(), env, r, time.Minute, func(st map[string]serverStats) bool { return st["web01"].Total >= 3 })
	if err != nil || stats["web01"].Total != 3 {
		t.Fatalf("stats %+v, err %v; want web01 at 3 sessions", stats, err)
	}
	_, err = waitForStats(context.Background(), env, r, 100*time.Millisecond, func(map[string]serverStats) bool { return false })
	checktest.WantErr(t, err, "gave up after 100ms")
	if strings.Contains(err.Error(), "ended") {
		t.Fatalf("a wait that gave up blamed the reader: %v", err)
	}
}
