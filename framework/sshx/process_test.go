package sshx_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/drivelab/drivelab/framework/sshx"
)

// A started command answers request after request on one session.
func TestStartAnswersRequestAfterRequest(t *testing.T) {
	c := dialTestServer(t)
	p, err := c.Start(context.Background(), `while read -r line; do echo "got $line"; done`)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	out := bufio.NewReader(p.Stdout)
	for _, req := range []string{"a", "b", "c"} {
		if _, err := io.WriteString(p.Stdin, req+"\n"); err != nil {
			t.Fatal(err)
		}
		if line, err := out.ReadString('\n'); line != "got "+req+"\n" || err != nil {
			t.Fatalf("answer to %q: %q, %v", req, line, err)
		}
	}
	p.Close()
	if _, err := out.ReadString('\n'); err == nil || !strings.Contains(err.Error(), "was closed") {
		t.Fatalf("read after Close: %v, want it to say the command was closed", err)
	}
}

// Stdout gives all the command printed, then io.EOF on a clean exit, or the
// status and stderr of a failed one.
func TestStartSaysHowTheCommandEnded(t *testing.T) {
	c := dialTestServer(t)
	for cmd, want := range map[string]string{
		"echo out":                        "",
		"echo out; echo oops >&2; exit 3": "status 3: oops",
	} {
		p, err := c.Start(context.Background(), cmd)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(p.Stdout) // nil on io.EOF
		if string(got) != "out\n" || (want == "") != (err == nil) || (want != "" && !strings.Contains(err.Error(), want)) {
			t.Errorf("%q: stdout %q, err %v; want %q", cmd, got, err, want)
		}
		p.Close()
	}
}

// A read waiting for a command that prints nothing ends with ctx.
func TestStartStopsWithContext(t *testing.T) {
	c := dialTestServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	p, err := c.Start(ctx, "sleep 30")
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if _, err := p.Stdout.Read(make([]byte, 1)); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("read: %v, want the deadline", err)
	}
}

// Close frees the session: far more commands than sshx.SessionLimit start
// one after another on one connection.
func TestStartCloseFreesTheSession(t *testing.T) {
	c := dialTestServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for i := range 3 * sshx.SessionLimit {
		p, err := c.Start(ctx, "cat")
		if err != nil {
			t.Fatalf("start %d: %v", i+1, err)
		}
		p.Close()
	}
}
