package sshx_test

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/drivelab/drivelab/framework/sshx"
)

// testServer is a small SSH server on loopback: exec runs sh -c on this host,
// direct-tcpip forwards, so Run and Jump meet a real SSH peer. Like sshd it
// refuses a session past openSSHMaxSessions on one connection.
type testServer struct {
	addr    string
	hostKey sshx.KeyPair
}

func startServer(t *testing.T, clientKey ssh.PublicKey, password string) *testServer {
	t.Helper()
	return listen(t, &ssh.ServerConfig{
		PublicKeyCallback: func(_ ssh.ConnMetadata, k ssh.PublicKey) (*ssh.Permissions, error) {
			if clientKey != nil && string(k.Marshal()) == string(clientKey.Marshal()) {
				return nil, nil
			}
			return nil, errors.New("unknown key")
		},
		PasswordCallback: func(_ ssh.ConnMetadata, p []byte) (*ssh.Permissions, error) {
			if password != "" && string(p) == password {
				return nil, nil
			}
			return nil, errors.New("wrong password")
		},
	})
}

// listen serves cfg, with a fresh host key, until the test ends.
func listen(t *testing.T, cfg *ssh.ServerConfig) *testServer {
	t.Helper()
	hostKey, err := sshx.NewKeyPair("host")
	if err != nil {
		t.Fatal(err)
	}
	cfg.AddHostKey(hostKey.Signer)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go serve(c, cfg)
		}
	}()
	return &testServer{addr: ln.Addr().String(), hostKey: hostKey}
}

// openSSHMaxSessions is sshd's default MaxSessions.
const openSSHMaxSessions = 10

func serve(c net.Conn, cfg *ssh.ServerConfig) {
	_, chans, reqs, err := ssh.NewServerConn(c, cfg)
	if err != nil {
		c.Close()
		return
	}
	go ssh.DiscardRequests(reqs)
	var open atomic.Int32
	for nc := range chans {
		switch nc.ChannelType() {
		case "session":
			if open.Add(1) > openSSHMaxSessions {
				open.Add(-1)
				nc.Reject(ssh.ConnectionFailed, "open failed")
				continue
			}
			go func() { serveSession(nc); open.Add(-1) }()
		case "direct-tcpip":
			go serveForward(nc)
		default:
			nc.Reject(ssh.UnknownChannelType, "no")
		}
	}
}

func serveSession(nc ssh.NewChannel) {
	ch, reqs, _ := nc.Accept()
	defer ch.Close()
	for r := range reqs {
		if r.Type != "exec" {
			r.Reply(false, nil)
			continue
		}
		r.Reply(true, nil)
		cmd := exec.Command("sh", "-c", string(r.Payload[4:]))
		cmd.Stdout, cmd.Stderr = ch, ch.Stderr()
		// As sshd: the command's end ends the session, whether or not the
		// client's stdin has ended (cmd.Stdin = ch would wait for it).
		stdin, _ := cmd.StdinPipe()
		go func() { io.Copy(stdin, ch); stdin.Close() }()
		code := 0
		if err := cmd.Run(); err != nil {
			code = 255
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				code = ee.ExitCode()
			}
		}
		status := make([]byte, 4)
		binary.BigEndian.PutUint32(status, uint32(code))
		ch.SendRequest("exit-status", false, status)
		return
	}
}

func serveForward(nc ssh.NewChannel) {
	var p struct {
		Host     string
		Port     uint32
		OrigHost string
		OrigPort uint32
	}
	if err := ssh.Unmarshal(nc.ExtraData(), &p); err != nil {
		nc.Reject(ssh.ConnectionFailed, err.Error())
		return
	}
	dst, err := net.Dial("tcp", net.JoinHostPort(p.Host, strconv.Itoa(int(p.Port))))
	if err != nil {
		nc.Reject(ssh.ConnectionFailed, err.Error())
		return
	}
	ch, reqs, _ := nc.Accept()
	go ssh.DiscardRequests(reqs)
	go func() { io.Copy(dst, ch); dst.Close() }()
	io.Copy(ch, dst)
	ch.Close()
}

func loopbackDial(ctx context.Context, network, addr string) (net.Conn, error) {
	var d net.Dialer
	return d.DialContext(ctx, network, addr)
}

func TestRunReturnsOutputAndExitCode(t *testing.T) {
	c := dialTestServer(t)
	ctx := context.Background()
	res, err := c.Run(ctx, "echo out; echo err >&2; exit 3")
	if err != nil {
		t.Fatal(err)
	}
	if res.Stdout != "out\n" || res.Stderr != "err\n" || res.ExitCode != 3 {
		t.Fatalf("result = %+v", res)
	}
	if _, err := c.Output(ctx, "echo boom >&2; false"); err == nil || !strings.Contains(err.Error(), "boom") {
		t.Fatalf("Output on failure: err = %v, want the command's stderr in it", err)
	}
}

func TestHostKeyIsPinned(t *testing.T) {
	key, _ := sshx.NewKeyPair("harness")
	srv := startServer(t, key.PublicKey(), "")
	other, _ := sshx.NewKeyPair("impostor")
	_, err := sshx.Dial(context.Background(), loopbackDial, sshx.Target{Name: "n1", Addr: srv.addr, User: "root",
		Auth: []ssh.AuthMethod{ssh.PublicKeys(key.Signer)}, HostKey: other.PublicKey()})
	if !errors.Is(err, sshx.ErrHostKey) {
		t.Fatalf("err = %v, want a host key mismatch", err)
	}
	_, err = sshx.Dial(context.Background(), loopbackDial, sshx.Target{Name: "n1", Addr: srv.addr, User: "root",
		Auth: []ssh.AuthMethod{ssh.PublicKeys(key.Signer)}})
	if err == nil || !strings.Contains(err.Error(), "no pinned host key") {
		t.Fatalf("err = %v, want a refusal without a pinned key", err)
	}
}

func TestJumpAndPasswordRefusal(t *testing.T) {
	key, _ := sshx.NewKeyPair("harness")
	jumpHost := startServer(t, key.PublicKey(), "")
	target := startServer(t, nil, "s3cret")
	ctx := context.Background()
	jump, err := sshx.Dial(ctx, loopbackDial, sshx.Target{Name: "jump", Addr: jumpHost.addr, User: "root",
		Auth: []ssh.AuthMethod{ssh.PublicKeys(key.Signer)}, HostKey: jumpHost.hostKey.PublicKey()})
	if err != nil {
		t.Fatal(err)
	}
	defer jump.Close()
	good, err := jump.Jump(ctx, sshx.Target{Name: "t", Addr: target.addr, User: "root",
		Auth: []ssh.AuthMethod{ssh.Password("s3cret")}, HostKey: target.hostKey.PublicKey()})
	if err != nil {
		t.Fatal(err)
	}
	good.Close()
	_, err = jump.Jump(ctx, sshx.Target{Name: "t", Addr: target.addr, User: "root",
		Auth: []ssh.AuthMethod{ssh.Password("wrong")}, HostKey: target.hostKey.PublicKey()})
	if !errors.Is(err, sshx.ErrAuth) {
		t.Fatalf("err = %v, want ErrAuth", err)
	}
	if strings.Contains(err.Error(), "wrong") || strings.Contains(err.Error(), "s3cret") {
		t.Fatalf("a password leaked into the error: %v", err)
	}
}

func TestRunStopsWithContext(t *testing.T) {
	c := dialTestServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err := c.Run(ctx, "sleep 30")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want the deadline", err)
	}
}

// TestManyConcurrentRunsStayUnderMaxSessions runs three times sshd's session
// limit at once on one connection, as the checks do from test2.
func TestManyConcurrentRunsStayUnderMaxSessions(t *testing.T) {
	c := dialTestServer(t)
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 3*openSSHMaxSessions)
	for range 3 * openSSHMaxSessions {
		wg.Go(func() {
			if _, err := c.Output(ctx, "sleep 0.2"); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestKeyPairRoundTrip(t *testing.T) {
	k, err := sshx.NewKeyPair("node1")
	if err != nil {
		t.Fatal(err)
	}
	back, err := sshx.ParseKeyPair([]byte(k.PrivateOpenSSH))
	if err != nil {
		t.Fatal(err)
	}
	if back.AuthorizedKey != k.AuthorizedKey || !strings.HasPrefix(k.AuthorizedKey, "ssh-ed25519 ") {
		t.Fatalf("authorized key %q != %q", back.AuthorizedKey, k.AuthorizedKey)
	}
	if !strings.Contains(k.PrivateOpenSSH, "BEGIN OPENSSH PRIVATE KEY") {
		t.Fatal("private key is not in OpenSSH form, which cloud-init's ssh_keys expects")
	}
}
