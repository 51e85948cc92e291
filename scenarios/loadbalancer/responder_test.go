package loadbalancer

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/drivelab/drivelab/framework/config"
	"github.com/drivelab/drivelab/framework/verify"
	"github.com/drivelab/drivelab/scenarios/checks"
	"github.com/drivelab/drivelab/scenarios/checks/checktest"
)

// localResponder runs cmd with sh on this host, as startResponder runs it
// on a node; killing the returned command kills the responder.
func localResponder(t *testing.T, what, cmd, end string, timeout time.Duration) (*responder, *exec.Cmd) {
	t.Helper()
	c := exec.Command("sh", "-c", cmd)
	// As on a guest: python buffers a pipe's output until it flushes.
	c.Env = append(os.Environ(), "PYTHONUNBUFFERED=")
	in, _ := c.StdinPipe()
	out, _ := c.StdoutPipe()
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Process.Kill(); c.Wait() })
	stop := func() error { return c.Process.Kill() }
	return &responder{what: what, in: in, out: bufio.NewReader(out), stop: stop, end: end, timeout: timeout}, c
}

func TestResponderAnswersQuestionAfterQuestion(t *testing.T) {
	r, _ := localResponder(t, "the counter", `n=0; while read -r _; do n=$((n+1)); echo "answer $n"; echo "two lines"; echo END; done`, "END", 10*time.Second)
	for _, want := range []string{"answer 1\ntwo lines\n", "answer 2\ntwo lines\n"} {
		if got, err := r.ask(context.Background()); got != want || err != nil {
			t.Fatalf("ask: %q, %v; want %q", got, err, want)
		}
	}
}

// A responder that died says so, now and on every later ask.
func TestResponderThatDiedSaysSo(t *testing.T) {
	r, cmd := localResponder(t, "the counter", `while read -r _; do echo END; done`, "END", 10*time.Second)
	if _, err := r.ask(context.Background()); err != nil {
		t.Fatal(err)
	}
	cmd.Process.Kill()
	_, err := r.ask(context.Background())
	checktest.WantErr(t, err, "the counter ended")
	if _, again := r.ask(context.Background()); again != err {
		t.Fatalf("the next ask: %v, want the first one's error", again)
	}
}

// An ask with no answer in time ends the responder: the late answer must
// not pass for the next ask's.
func TestResponderWithoutAnAnswerInTimeEnds(t *testing.T) {
	r, _ := localResponder(t, "the sleeper", `while read -r _; do sleep 1; echo late; echo END; done`, "END", 200*time.Millisecond)
	_, err := r.ask(context.Background())
	checktest.WantErr(t, err, "no answer from the sleeper in time: context deadline exceeded")
	if _, again := r.ask(context.Background()); again != err {
		t.Fatalf("the next ask: %v, want the first one's error", again)
	}
}

// The request loop runs curlPages for each line and counts the one page it
// printed, or fails on a page no web node's; curl here is a stand-in that
// prints the page file as curl's -w would.
func TestPageRequesterCountsOnePagePerRequest(t *testing.T) {
	topo := checktest.Reference(t, root)
	bin := t.TempDir()
	calls, page := filepath.Join(bin, "calls"), filepath.Join(bin, "page")
	fake := "#!/bin/sh\nfor a; do url=$a; done\necho \"$url\" >>" + calls + "\ncat " + page + "; printf '\\n\\n" + checks.Separator + "\\n'\n"
	if err := os.WriteFile(filepath.Join(bin, "curl"), []byte(fake), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+":"+os.Getenv("PATH"))
	env := &verify.Env{Topology: topo, Intervals: config.Intervals{Command: time.Minute}}
	r, _ := localResponder(t, "the request loop", pageRequestLoop(env, checktest.Node(t, topo, "haproxy")), checks.Separator, 10*time.Second)
	p := &pageRequester{responder: r, topo: topo}
	request := func(body string) (map[string]int, error) {
		if err := os.WriteFile(page, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p.request(context.Background())
	}
	for range 2 {
		seen, err := request("Greetings from web02.cloud.org !\n")
		if err != nil || len(seen) != 1 || seen["web02"] != 1 {
			t.Fatalf("request: %v, %v; want web02 once", seen, err)
		}
	}
	_, err := request("<html><body><h1>503 Service Unavailable</h1>")
	checktest.WantErr(t, err, "request 1 of 1 to the load balancer returned no web node's page: \"<html><body><h1>503")
	if got, _ := os.ReadFile(calls); string(got) != strings.Repeat("http://haproxy.cloud.org/\n", 3) {
		t.Fatalf("curl asked for\n%s\nwant one page of haproxy.cloud.org a request", got)
	}
}
