package remote

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/drivelab/drivelab/framework/testenv"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

var quick = DialInput{Timeout: 10 * time.Second}

func dial(t *testing.T, h Host, in DialInput) *Client {
	t.Helper()
	c, err := Dial(context.Background(), h, in)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestDialPinsHostKeys(t *testing.T) {
	l := newLogin(t)
	srv := startServer(t, l.key.PublicKey(), nil)
	h := l.host(srv.addr)

	// Unknown: no known_hosts file at all, then one without the host.
	for _, setup := range []func(){func() {}, func() { other, _ := newKey(t); l.pin(t, "127.0.0.2:22", other.PublicKey()) }} {
		setup()
		_, err := Dial(context.Background(), h, quick)
		if !errors.Is(err, ErrHostKey) {
			t.Fatalf("unknown host key accepted or other error: %v", err)
		}
		for _, w := range []string{srv.addr, ssh.FingerprintSHA256(srv.hostKey.PublicKey()), l.knownHosts, "ssh-keyscan -H -p", "in none of"} {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("error %q does not say %q", err, w)
			}
		}
	}

	// Changed: another key is pinned for this address.
	wrong, _ := newKey(t)
	l.pin(t, srv.addr, wrong.PublicKey())
	_, err := Dial(context.Background(), h, quick)
	if !errors.Is(err, ErrHostKey) {
		t.Fatalf("changed host key accepted or other error: %v", err)
	}
	for _, w := range []string{ssh.FingerprintSHA256(srv.hostKey.PublicKey()), ssh.FingerprintSHA256(wrong.PublicKey()), l.knownHosts + ":2", "ssh-keygen -R"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not say %q", err, w)
		}
	}

	// Known: the right key, in a second file.
	good := &login{key: l.key, keyFile: l.keyFile, knownHosts: filepath.Join(t.TempDir(), "known")}
	good.pin(t, srv.addr, srv.hostKey.PublicKey())
	h.KnownHosts = []string{filepath.Join(t.TempDir(), "missing"), good.knownHosts}
	c := dial(t, h, quick)
	out, err := c.Run(context.Background(), "echo", "hello")
	if err != nil || string(out) != "hello\n" {
		t.Fatalf("%q, %v", out, err)
	}
}

func TestDialLogsInWithTheAgent(t *testing.T) {
	l := newLogin(t)
	srv := startServer(t, l.key.PublicKey(), nil)
	l.pin(t, srv.addr, srv.hostKey.PublicKey())
	h := l.host(srv.addr)
	h.KeyFiles = []string{filepath.Join(t.TempDir(), "missing")}

	if _, err := Dial(context.Background(), h, quick); err == nil || !strings.Contains(err.Error(), "no key to log in with") {
		t.Fatalf("no key: %v", err)
	}

	// Only the agent holds the key.
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	other := startServer(t, mustSigner(t, priv).PublicKey(), nil)
	l.pin(t, other.addr, other.hostKey.PublicKey())
	keyring := agent.NewKeyring()
	if err := keyring.Add(agent.AddedKey{PrivateKey: priv}); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(t.TempDir(), "agent")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { agent.ServeAgent(keyring, c); c.Close() }()
		}
	}()
	h = l.host(other.addr)
	h.KeyFiles = nil
	c := dial(t, h, DialInput{Timeout: 10 * time.Second, AgentSocket: sock})
	if _, err := c.Run(context.Background(), "true"); err != nil {
		t.Fatal(err)
	}
	// A key the server does not take: refused, naming the user and the fix.
	h.KeyFiles = []string{l.keyFile}
	if _, err := Dial(context.Background(), h, quick); err == nil || !strings.Contains(err.Error(), "login as tester") || !strings.Contains(err.Error(), "authorized_keys") {
		t.Errorf("refused login: %v", err)
	}
}

func mustSigner(t *testing.T, priv ed25519.PrivateKey) ssh.Signer {
	t.Helper()
	s, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestDialHonoursCtxDuringTheHandshake(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() { // accepts, then says nothing
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	l := newLogin(t)
	start := time.Now()
	_, err = Dial(context.Background(), l.host(ln.Addr().String()), DialInput{Timeout: 300 * time.Millisecond})
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 5*time.Second {
		t.Fatalf("after %s: %v", time.Since(start), err)
	}
}

func TestDialThroughAJumpHost(t *testing.T) {
	l := newLogin(t)
	target := startServer(t, l.key.PublicKey(), nil)
	jump := startServer(t, l.key.PublicKey(), nil)
	l.pin(t, target.addr, target.hostKey.PublicKey())
	h := l.host(target.addr)
	h.ProxyJump, h.Jumps = jump.addr, []Host{l.host(jump.addr)}

	// The jump's key is checked too.
	if _, err := Dial(context.Background(), h, quick); !errors.Is(err, ErrHostKey) || !strings.Contains(err.Error(), "jump host") {
		t.Fatalf("unpinned jump host: %v", err)
	}
	l.pin(t, jump.addr, jump.hostKey.PublicKey())
	c := dial(t, h, quick)
	if _, err := c.Run(context.Background(), "true"); err != nil {
		t.Fatal(err)
	}
	if n := jump.forwards.Load(); n != 1 {
		t.Errorf("the jump host forwarded %d connections, want 1", n)
	}
	c.Close()
	// Closing the client closes the hop as well: nothing leaks.
	hopDone := make(chan struct{})
	go func() { c.hops[0].Wait(); close(hopDone) }()
	select {
	case <-hopDone:
	case <-time.After(5 * time.Second):
		t.Error("the jump connection is still open after Close")
	}
}

func TestRunQuotesEveryArgument(t *testing.T) {
	l := newLogin(t)
	srv := startServer(t, l.key.PublicKey(), nil)
	l.pin(t, srv.addr, srv.hostKey.PublicKey())
	c := dial(t, l.host(srv.addr), quick)
	ctx := context.Background()
	args := []string{"it's \"quoted\"", "$HOME `id` $(id)", "a;b|c&&d", "*", "", "new\nline", `back\slash`, "-n"}
	out, err := c.Run(ctx, append([]string{"printf", "[%s]\n"}, args...)...)
	if err != nil {
		t.Fatal(err)
	}
	want := ""
	for _, a := range args {
		want += "[" + a + "]\n"
	}
	if string(out) != want {
		t.Errorf("got\n%s\nwant\n%s", out, want)
	}

	// Script: arguments are $1..$n, the script its own.
	out, err = c.Script(ctx, `printf '%s|' "$@"; echo "$#"`, "a b", "$x")
	if err != nil || string(out) != "a b|$x|2\n" {
		t.Errorf("script: %q, %v", out, err)
	}

	// A failure quotes the command, the status and stderr's tail.
	_, err = c.Script(ctx, `echo out; echo "it broke" >&2; exit 3`)
	var ee *ExitError
	if !errors.As(err, &ee) || ee.Code != 3 || !strings.Contains(err.Error(), "it broke") || !strings.Contains(err.Error(), "exit 3") {
		t.Errorf("failure: %v", err)
	}
	_, err = c.Run(ctx, "ls", "/no such dir")
	if err == nil || !strings.Contains(err.Error(), "`ls '/no such dir'`") {
		t.Errorf("failure: %v", err)
	}

	// stdin.
	out, err = c.RunInput(ctx, strings.NewReader("from stdin"), "cat")
	if err != nil || string(out) != "from stdin" {
		t.Errorf("stdin: %q, %v", out, err)
	}

	// ctx ends a command.
	cctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = c.Run(cctx, "sleep", "30")
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 5*time.Second {
		t.Errorf("after %s: %v", time.Since(start), err)
	}
}

func TestStream(t *testing.T) {
	l := newLogin(t)
	srv := startServer(t, l.key.PublicKey(), nil)
	l.pin(t, srv.addr, srv.hostKey.PublicKey())
	c := dial(t, l.host(srv.addr), quick)
	conn, err := c.Stream(context.Background(), "sh", "-c", `read x; echo "got $x"; echo "bad thing" >&2; exit 2`)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte("hello\n")); err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(conn)
	if string(out) != "got hello\n" || err == nil || !strings.Contains(err.Error(), "exited 2") || !strings.Contains(err.Error(), "bad thing") {
		t.Errorf("%q, %v", out, err)
	}
	if conn.LocalAddr().String() == "" || !strings.Contains(conn.RemoteAddr().String(), "sh") {
		t.Errorf("addresses %v %v", conn.LocalAddr(), conn.RemoteAddr())
	}

	// Close ends a pending Read.
	conn, err = c.Stream(context.Background(), "sleep", "30")
	if err != nil {
		t.Fatal(err)
	}
	time.AfterFunc(100*time.Millisecond, func() { conn.Close() })
	if _, err := conn.Read(make([]byte, 1)); !errors.Is(err, net.ErrClosed) {
		t.Errorf("read after close: %v", err)
	}
}

func TestDialUnixAndTheLibvirtFallback(t *testing.T) {
	l := newLogin(t)
	sock := filepath.Join(t.TempDir(), "libvirt-sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Write([]byte("libvirtd here"))
			c.Close()
		}
	}()
	srv := startServer(t, l.key.PublicKey(), nil)
	refusing := startServer(t, l.key.PublicKey(), func(s *testServer) { s.refuseUnix = true })
	refusing.fakeCommand(t, "virt-ssh-helper", `echo "helper for $1"`)
	l.pin(t, srv.addr, srv.hostKey.PublicKey())
	l.pin(t, refusing.addr, refusing.hostKey.PublicKey())

	h := l.host(srv.addr)
	h.Socket = sock
	conn, err := dial(t, h, quick).LibvirtDialer().Dial()
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := io.ReadAll(conn); string(b) != "libvirtd here" {
		t.Errorf("read %q", b)
	}

	c := dial(t, l.host(refusing.addr), quick)
	_, err = c.DialUnix(sock)
	if !errors.Is(err, ErrStreamLocalRefused) || !strings.Contains(err.Error(), "AllowStreamLocalForwarding") {
		t.Errorf("refused: %v", err)
	}
	conn, err = c.LibvirtDialer().Dial()
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := io.ReadAll(conn); string(b) != "helper for qemu:///system\n" {
		t.Errorf("fallback read %q", b)
	}
}

func TestDialIn(t *testing.T) {
	l := newLogin(t)
	srv := startServer(t, l.key.PublicKey(), nil)
	// `ip netns exec NS cmd...` runs cmd here, noting NS: no namespace needed.
	srv.fakeCommand(t, "ip", `[ "$1 $2" = "netns exec" ] || exit 99
echo "$3" >> ns.log; shift 3; exec "$@"`)
	l.pin(t, srv.addr, srv.hostKey.PublicKey())
	c := dial(t, l.host(srv.addr), quick)

	echo := func(network, address string) string {
		ln, err := net.Listen(network, address)
		testenv.Need(t, err == nil, "no %s loopback: %v", network, err)
		t.Cleanup(func() { ln.Close() })
		go func() {
			for {
				conn, err := ln.Accept()
				if err != nil {
					return
				}
				go func() { io.Copy(conn, conn); conn.Close() }()
			}
		}()
		return ln.Addr().String()
	}
	for _, network := range []string{"tcp4", "tcp6"} {
		loop := map[string]string{"tcp4": "127.0.0.1:0", "tcp6": "[::1]:0"}[network]
		t.Run(network, func(t *testing.T) {
			address := echo(network, loop)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			conn, err := c.DialIn(ctx, "drivelab-1", "tcp", address)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			msg := make([]byte, 100_000)
			rand.Read(msg)
			go conn.Write(msg)
			got := make([]byte, len(msg))
			stop := context.AfterFunc(ctx, func() { conn.Close() })
			defer stop()
			if _, err := io.ReadFull(conn, got); err != nil || !bytes.Equal(got, msg) {
				t.Fatalf("echo: %v", err)
			}
			if conn.RemoteAddr().String() != address {
				t.Errorf("remote address %v", conn.RemoteAddr())
			}
		})
	}
	if b, _ := os.ReadFile(filepath.Join(srv.dir, "ns.log")); !strings.HasPrefix(string(b), "drivelab-1\n") {
		t.Errorf("namespaces used: %q", b)
	}

	// A refused connection is an error of DialIn naming the address.
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	closed := ln.Addr().String()
	ln.Close()
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := c.DialIn(ctx, "drivelab-1", "tcp", closed)
	if err == nil || !strings.Contains(err.Error(), closed) || !strings.Contains(err.Error(), "netns drivelab-1") || time.Since(start) > 5*time.Second {
		t.Errorf("refused after %s: %v", time.Since(start), err)
	}
}

func TestDialInArgv(t *testing.T) {
	argv, _, err := dialInArgv("drivelab-7", "tcp", "[fd00::5]:22")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"ip", "netns", "exec", "drivelab-7", "bash", "-c", dialInScript, "drivelab-dialin", "fd00::5", "22"}
	if strings.Join(argv, "\x00") != strings.Join(want, "\x00") {
		t.Errorf("argv %q", argv)
	}
	// The script reaches bash as one argument, its $1 $2 unexpanded by
	// the login shell.
	if q := Quote(argv...); !strings.Contains(q, `'exec 3<>"/dev/tcp/$1/$2" || exit 111`) || !strings.HasSuffix(q, "drivelab-dialin fd00::5 22") {
		t.Errorf("command line %s", q)
	}
	if argv, _, err := dialInArgv("ns", "tcp4", "::ffff:10.0.0.1:80"); err == nil {
		t.Errorf("no brackets accepted: %q", argv)
	}
	for _, bad := range [][3]string{
		{"ns", "tcp", "guest:22"},
		{"ns", "tcp", "10.0.0.1"},
		{"ns", "tcp", "10.0.0.1:0"},
		{"ns", "tcp", "[fe80::1%eth0]:22"},
		{"ns", "udp", "10.0.0.1:53"},
		{"ns", "tcp4", "[fd00::1]:22"},
		{"ns", "tcp6", "10.0.0.1:22"},
		{"../x", "tcp", "10.0.0.1:22"},
		{"a b", "tcp", "10.0.0.1:22"},
		{"$(id)", "tcp", "10.0.0.1:22"},
		{"", "tcp", "10.0.0.1:22"},
	} {
		if argv, _, err := dialInArgv(bad[0], bad[1], bad[2]); err == nil {
			t.Errorf("%q accepted: %q", bad, argv)
		}
	}
}

func TestKeepaliveNoticesASilentHost(t *testing.T) {
	l := newLogin(t)
	srv := startServer(t, l.key.PublicKey(), nil)
	l.pin(t, srv.addr, srv.hostKey.PublicKey())
	const interval, misses = 100 * time.Millisecond, 3
	c := dial(t, l.host(srv.addr), DialInput{Timeout: 10 * time.Second, Keepalive: interval, KeepaliveMisses: misses})

	// Answered keepalives keep it up.
	select {
	case <-c.Done():
		t.Fatalf("ended while the host answered: %v", c.Err())
	case <-time.After(2 * misses * interval):
	}
	if c.Err() != nil {
		t.Fatal(c.Err())
	}

	srv.silent.Store(true)
	start := time.Now()
	select {
	case <-c.Done():
	case <-time.After(misses*interval + 2*time.Second):
		t.Fatal("a silent host was not noticed")
	}
	took := time.Since(start)
	if took > (misses+2)*interval {
		t.Errorf("noticed after %s, want within about %s", took, misses*interval)
	}
	if err := c.Err(); err == nil || !strings.Contains(err.Error(), "keepalives") {
		t.Errorf("Err: %v", err)
	}
	if _, err := c.Run(context.Background(), "true"); err == nil {
		t.Error("a command ran on a lost connection")
	}
}

func TestUploadOverSSHSurvivesACutConnection(t *testing.T) {
	l := newLogin(t)
	srv := startServer(t, l.key.PublicKey(), nil)
	l.pin(t, srv.addr, srv.hostKey.PublicKey())
	h := l.host(srv.addr)
	local, content := localFile(t, 3<<20)
	remote := filepath.Join(srv.dir, "images", "disk.qcow2")
	srv.cutAppendAt.Store(1 << 20)
	var clients []*Client
	defer func() {
		for _, c := range clients {
			c.Close()
		}
	}()
	res, err := Upload(context.Background(), UploadInput{
		Local: local, Remote: remote, Host: h.Name, Attempts: 3, Backoff: 10 * time.Millisecond,
		Connect: func(ctx context.Context) (Files, error) {
			c, err := Dial(ctx, h, quick)
			if err == nil {
				clients = append(clients, c)
			}
			return c, err
		},
		Progress: func(f string, a ...any) { t.Logf(f, a...) },
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(remote)
	if err != nil || !bytes.Equal(got, content) {
		t.Fatalf("remote file: %d bytes, %v", len(got), err)
	}
	if res.Attempts != 2 || len(res.ResumedAt) != 1 || res.ResumedAt[0] != 1<<20 {
		t.Errorf("%+v", res)
	}
	if _, err := os.Stat(remote + ".part"); !os.IsNotExist(err) {
		t.Errorf(".part: %v", err)
	}
	// Done again: nothing to copy.
	res, err = Upload(context.Background(), UploadInput{Local: local, Remote: remote, Host: h.Name, Attempts: 1,
		Connect: func(ctx context.Context) (Files, error) { return clients[len(clients)-1], nil }})
	if err != nil || !res.Skipped {
		t.Errorf("%+v, %v", res, err)
	}
}
