package remote

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"regexp"
	"sync"
	"sync/atomic"
	"time"

	"github.com/digitalocean/go-libvirt/socket"
	"golang.org/x/crypto/ssh"
)

// Stream starts argv on the host (quoted as Run does) and returns its stdin
// and stdout as a net.Conn. ctx bounds the command's life, as Close does.
// After the last of its output, Read returns io.EOF if the command exited
// 0, and otherwise an error with its status and the tail of its stderr.
// Deadlines are not supported: the Set*Deadline methods do nothing (close
// the conn, or end ctx, to stop a pending Read or Write). Close it in any
// case: a command that does not end holds one of the client's sessions.
func (c *Client) Stream(ctx context.Context, argv ...string) (net.Conn, error) {
	if len(argv) == 0 {
		return nil, fmt.Errorf("%s: stream: no command", c.host.Name)
	}
	shown := Quote(argv...)
	return c.stream(ctx, Quote(argv...), fmt.Sprintf("%s: `%s`", c.host.Name, shown), addr{"ssh-exec", c.host.Name + ":" + argv[0]})
}

// stream starts cmd; what prefixes its errors.
func (c *Client) stream(ctx context.Context, cmd, what string, remote net.Addr) (*streamConn, error) {
	s, release, err := c.session(ctx)
	if err != nil {
		return nil, err
	}
	stdin, err := s.StdinPipe()
	if err != nil {
		release()
		return nil, fmt.Errorf("%s: stdin: %w", what, err)
	}
	// A pipe rather than the session's stdout: closing it ends a pending
	// Read at once, where the channel would wait for the host.
	r, w := io.Pipe()
	sc := &streamConn{stdin: stdin, r: r, w: w, release: release, session: s, what: what,
		local: addr{"ssh", c.host.Name}, remote: remote}
	s.Stdout, s.Stderr = w, &sc.stderr
	if err := s.Start(cmd); err != nil {
		release()
		return nil, fmt.Errorf("%s: start: %w", what, err)
	}
	go func() {
		err := s.Wait()
		if err == nil {
			w.CloseWithError(io.EOF)
		} else {
			w.CloseWithError(c.ended(what, err, sc.stderr.String()))
		}
		// The command is over: its session's slot is free again, even
		// before the caller's Close.
		release()
	}()
	sc.stopCtx = context.AfterFunc(ctx, func() {
		sc.kill(fmt.Errorf("%s: stopped: %w", what, context.Cause(ctx)))
	})
	return sc, nil
}

// streamConn is a remote command as a net.Conn.
type streamConn struct {
	stdin         io.WriteCloser
	r             *io.PipeReader
	w             *io.PipeWriter
	stderr        tailBuffer
	session       *ssh.Session
	release       func()
	stopCtx       func() bool
	what          string
	local, remote net.Addr
	once          sync.Once
}

func (s *streamConn) Read(p []byte) (int, error) { return s.r.Read(p) }

func (s *streamConn) Write(p []byte) (int, error) {
	n, err := s.stdin.Write(p)
	if err != nil {
		err = fmt.Errorf("%s: write: %w", s.what, err)
	}
	return n, err
}

// CloseWrite sends EOF to the command's stdin.
func (s *streamConn) CloseWrite() error { return s.stdin.Close() }

// Close kills the command and frees its session; later Reads say so.
func (s *streamConn) Close() error {
	s.stopCtx()
	s.kill(fmt.Errorf("%s: %w", s.what, net.ErrClosed))
	return nil
}

func (s *streamConn) kill(why error) {
	s.w.CloseWithError(why)
	s.once.Do(func() {
		_ = s.session.Signal(ssh.SIGKILL)
		s.stdin.Close()
		s.release()
	})
}

func (s *streamConn) LocalAddr() net.Addr  { return s.local }
func (s *streamConn) RemoteAddr() net.Addr { return s.remote }

// SetDeadline and its kin do nothing: see Stream.
func (s *streamConn) SetDeadline(time.Time) error      { return nil }
func (s *streamConn) SetReadDeadline(time.Time) error  { return nil }
func (s *streamConn) SetWriteDeadline(time.Time) error { return nil }

// addr is a net.Addr for the ends of a stream.
type addr struct{ net, s string }

func (a addr) Network() string { return a.net }
func (a addr) String() string  { return a.s }

// ErrStreamLocalRefused marks a host whose sshd does not forward to unix
// sockets (AllowStreamLocalForwarding no, or a restricted key).
var ErrStreamLocalRefused = errors.New("unix socket forwarding refused")

// DialUnix connects to the unix socket at path on the host
// (direct-streamlocal@openssh.com). If the host's sshd refuses that, the
// error wraps ErrStreamLocalRefused and says which setting allows it.
func (c *Client) DialUnix(path string) (net.Conn, error) {
	conn, err := c.ssh.Dial("unix", path)
	if err == nil {
		return conn, nil
	}
	var oce *ssh.OpenChannelError
	if errors.As(err, &oce) && oce.Reason == ssh.Prohibited {
		return nil, fmt.Errorf("%s: connect to %s: %w (%v): set AllowStreamLocalForwarding yes (or local) in the host's sshd_config, and no no-port-forwarding/restrict option on the key in authorized_keys", c.host.Name, path, ErrStreamLocalRefused, err)
	}
	if e := c.Err(); e != nil {
		err = errors.Join(err, e)
	}
	return nil, fmt.Errorf("%s: connect to %s: %w (is the socket there and its daemon running?)", c.host.Name, path, err)
}

// LibvirtDialer returns a go-libvirt dialer for the host's libvirtd: its
// socket (Host.Socket) through DialUnix, or, once sshd has refused that,
// `virt-ssh-helper qemu:///system` (libvirt 8.7 or later on the host)
// through Stream, as libvirt's own ssh transport does.
func (c *Client) LibvirtDialer() socket.Dialer { return &libvirtDialer{c: c} }

type libvirtDialer struct {
	c        *Client
	fallback atomic.Bool
}

func (d *libvirtDialer) Dial() (net.Conn, error) {
	if !d.fallback.Load() {
		conn, err := d.c.DialUnix(d.c.host.Socket)
		if !errors.Is(err, ErrStreamLocalRefused) {
			if err != nil {
				err = fmt.Errorf("libvirt on %w; for the modular daemons name virtqemud's socket with ?socket=/var/run/libvirt/virtqemud-sock", err)
			}
			return conn, err
		}
		d.fallback.Store(true)
	}
	uri := "qemu:///system"
	if d.c.host.Socket != DefaultSocket {
		uri += "?socket=" + d.c.host.Socket
	}
	argv := []string{"virt-ssh-helper", uri}
	what := fmt.Sprintf("%s: libvirt through `%s` (unix socket forwarding is refused; virt-ssh-helper needs libvirt 8.7 or later on the host)", d.c.host.Name, Quote(argv...))
	return d.c.stream(context.Background(), Quote(argv...), what, addr{"ssh-exec", d.c.host.Name + ":virt-ssh-helper"})
}

// nsName is what `ip netns` accepts as a namespace name, minus anything a
// path or a shell could read otherwise.
var nsName = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]*$`)

// dialInScript connects fd 3 to $1:$2 with bash's /dev/tcp, says so with
// one byte ("K", so a refused connection is an error of DialIn, not a
// silent EOF later), then relays: stdin to the socket in the background,
// the socket to stdout in the foreground. The background copy gets a
// duplicate of stdin (bash gives background jobs /dev/null otherwise) and
// no stderr, so sshd ends the session when the foreground copy ends.
const dialInScript = `exec 3<>"/dev/tcp/$1/$2" || exit 111
exec 4<&0
printf K
cat <&4 >&3 2>/dev/null 4<&- 3<&- &
exec cat <&3 4<&- 3<&-`

// dialInArgv is the command DialIn runs.
func dialInArgv(ns, network, address string) ([]string, netip.AddrPort, error) {
	if !nsName.MatchString(ns) {
		return nil, netip.AddrPort{}, fmt.Errorf("network namespace %q: not a namespace name (letters, digits, _ . -)", ns)
	}
	ap, err := netip.ParseAddrPort(address)
	if err != nil || ap.Addr().Zone() != "" || ap.Port() == 0 {
		// A name would be resolved by whatever resolver the namespace has;
		// guests are always addressed by IP, so refuse instead of guessing.
		return nil, netip.AddrPort{}, fmt.Errorf("%q is not a literal IP:port", address)
	}
	switch {
	case network == "tcp":
	case network == "tcp4" && ap.Addr().Unmap().Is4():
	case network == "tcp6" && ap.Addr().Is6():
	default:
		return nil, netip.AddrPort{}, fmt.Errorf("network %q with %s: only tcp (tcp4, tcp6) is relayed", network, address)
	}
	host := ap.Addr().Unmap().String()
	return []string{"ip", "netns", "exec", ns, "bash", "-c", dialInScript, "drivelab-dialin", host, fmt.Sprint(ap.Port())}, ap, nil
}

// DialIn connects to address (a literal IP:port) from inside network
// namespace ns on the host, for guests that live only there. The host needs
// nothing but iproute2, bash (its /dev/tcp) and cat; each connection holds
// one SSH session while it lasts (see DialInput.MaxSessions). Like
// net.Dialer's, ctx bounds the connect only. A refused or unreachable
// address is an error of DialIn naming it.
func (c *Client) DialIn(ctx context.Context, ns, network, address string) (net.Conn, error) {
	argv, ap, err := dialInArgv(ns, network, address)
	if err != nil {
		return nil, fmt.Errorf("%s: dial in netns %s: %w", c.host.Name, ns, err)
	}
	what := fmt.Sprintf("%s: %s in netns %s", c.host.Name, address, ns)
	conn, err := c.stream(context.Background(), Quote(argv...), what, net.TCPAddrFromAddrPort(ap))
	if err != nil {
		return nil, err
	}
	stop := context.AfterFunc(ctx, func() {
		conn.kill(fmt.Errorf("%s: connect: %w", what, context.Cause(ctx)))
	})
	var ok [1]byte
	_, err = io.ReadFull(conn, ok[:])
	if !stop() && err == nil {
		err = fmt.Errorf("%s: connect: %w", what, context.Cause(ctx))
	}
	if err == nil && ok[0] != 'K' {
		err = fmt.Errorf("%s: connect: the relay said %q instead of K", what, ok[0])
	}
	if err != nil {
		conn.Close()
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			err = fmt.Errorf("%s: connect: the relay ended at once", what)
		}
		return nil, err
	}
	return conn, nil
}
