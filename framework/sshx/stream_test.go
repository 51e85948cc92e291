package sshx_test

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/drivelab/drivelab/framework/sshx"
)

func dialTestServer(t *testing.T) *sshx.Client {
	t.Helper()
	key, _ := sshx.NewKeyPair("harness")
	srv := startServer(t, key.PublicKey(), "")
	c, err := sshx.Dial(context.Background(), loopbackDial, sshx.Target{Name: "n1", Addr: srv.addr, User: "root",
		Auth: []ssh.AuthMethod{ssh.PublicKeys(key.Signer)}, HostKey: srv.hostKey.PublicKey()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestStreamPassesStdinAndTheExitStatus(t *testing.T) {
	c := dialTestServer(t)
	var out, errOut bytes.Buffer
	code, err := c.Stream(context.Background(), sshx.StreamInput{
		Cmd: "cat; echo oops >&2; exit 7", Stdin: strings.NewReader("hello\n"), Stdout: &out, Stderr: &errOut,
	})
	if err != nil || code != 7 || out.String() != "hello\n" || errOut.String() != "oops\n" {
		t.Errorf("code %d, err %v, stdout %q, stderr %q", code, err, out.String(), errOut.String())
	}
}

// A terminal's stdin never ends: the session must still end with the
// remote command.
func TestStreamEndsWithTheCommandNotWithStdin(t *testing.T) {
	c := dialTestServer(t)
	stdin, never := io.Pipe()
	defer never.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var out bytes.Buffer
	code, err := c.Stream(ctx, sshx.StreamInput{Cmd: "echo done; exit 4", Stdin: stdin, Stdout: &out, Stderr: io.Discard})
	if err != nil || code != 4 || out.String() != "done\n" {
		t.Errorf("code %d, err %v, stdout %q", code, err, out.String())
	}
}

func TestStreamStopsWithContextAndNamesARefusedTerminal(t *testing.T) {
	c := dialTestServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if _, err := c.Stream(ctx, sshx.StreamInput{Cmd: "sleep 30", Stdout: io.Discard, Stderr: io.Discard}); err == nil || !strings.Contains(err.Error(), "deadline") {
		t.Errorf("got %v, want the deadline", err)
	}
	// The test server runs commands only, as a restricted sshd would.
	_, err := c.Stream(context.Background(), sshx.StreamInput{Stdout: io.Discard, Stderr: io.Discard, PTY: &sshx.PTY{Width: 80, Height: 24}})
	if err == nil || !strings.Contains(err.Error(), "n1: no terminal") {
		t.Errorf("got %v, want the refused terminal named", err)
	}
}
