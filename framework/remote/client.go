package remote

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"

	"github.com/drivelab/drivelab/framework/wait"
)

// DialInput says how to connect.
type DialInput struct {
	// Timeout, when positive, bounds the whole dial (every hop's TCP connect
	// and handshake) besides ctx.
	Timeout time.Duration
	// Keepalive is how often a keepalive@openssh.com request is sent;
	// KeepaliveMisses is how many in a row may go unanswered (each given
	// Keepalive to answer) before the connection is closed as lost. Zero
	// Keepalive sends none; zero KeepaliveMisses means 3.
	Keepalive       time.Duration
	KeepaliveMisses int
	// AgentSocket is ssh-agent's socket (the caller's $SSH_AUTH_SOCK), ""
	// for none: its keys are offered after the key files'.
	AgentSocket string
	// MaxSessions caps the sessions (commands, streams, DialIn relays) open
	// at once; more wait for one to end. sshd refuses a session past its
	// MaxSessions (10 by default) and frees a slot a little after a session
	// ends, hence a margin. Zero means DefaultMaxSessions.
	MaxSessions int
}

// DefaultMaxSessions leaves sshd's default MaxSessions (10) a margin.
const DefaultMaxSessions = 8

// Client is one SSH connection to a host, through its ProxyJump hops.
type Client struct {
	host  Host
	ssh   *ssh.Client
	hops  []*ssh.Client // the ProxyJump chain, first hop first
	slots chan struct{}

	done    chan struct{}
	errOnce sync.Once
	err     error
	stop    context.CancelFunc // ends the keepalive loop
}

// ErrHostKey marks a host whose key is unknown or changed.
var ErrHostKey = errors.New("host key not pinned")

// Dial connects to h (through h.Jumps), checking each host key against the
// known_hosts files and logging in with the key files and the agent. ctx
// and in.Timeout bound everything including the handshakes.
func Dial(ctx context.Context, h Host, in DialInput) (*Client, error) {
	if h.Local {
		return nil, fmt.Errorf("%s: the local host is reached without SSH", h.Name)
	}
	if in.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, in.Timeout)
		defer cancel()
	}
	signers, agentConn, err := loadSigners(h, in.AgentSocket)
	if err != nil {
		return nil, err
	}
	if agentConn != nil {
		// The agent is asked during the handshakes only.
		defer agentConn.Close()
	}
	var hops []*ssh.Client
	fail := func(err error) (*Client, error) {
		for i := len(hops) - 1; i >= 0; i-- {
			hops[i].Close()
		}
		return nil, err
	}
	chain := append(append([]Host(nil), h.Jumps...), h)
	var conn net.Conn
	for i, hop := range chain {
		if i == 0 {
			conn, err = (&net.Dialer{}).DialContext(ctx, "tcp", hop.Addr())
		} else {
			conn, err = hops[i-1].DialContext(ctx, "tcp", hop.Addr())
		}
		if err != nil {
			via := ""
			if i > 0 {
				via = " through " + chain[i-1].Name
			}
			return fail(fmt.Errorf("%s: connect %s%s: %w", h.Name, hop.Addr(), via, errors.Join(err, context.Cause(ctx))))
		}
		hopSigners := signers
		if i < len(chain)-1 {
			hs, ac, err := loadSigners(hop, in.AgentSocket)
			if err != nil {
				conn.Close()
				return fail(err)
			}
			if ac != nil {
				defer ac.Close()
			}
			hopSigners = hs
		}
		c, err := handshake(ctx, conn, hop, hopSigners)
		if err != nil {
			if i < len(chain)-1 {
				err = fmt.Errorf("%s: jump host: %w", h.Name, err)
			}
			return fail(err)
		}
		hops = append(hops, c)
	}
	max := in.MaxSessions
	if max <= 0 {
		max = DefaultMaxSessions
	}
	cl := &Client{host: h, ssh: hops[len(hops)-1], hops: hops[:len(hops)-1], slots: make(chan struct{}, max), done: make(chan struct{})}
	kctx, stop := context.WithCancel(context.Background())
	cl.stop = stop
	go func() {
		err := cl.ssh.Wait()
		if err == nil {
			err = io.EOF
		}
		cl.setErr(fmt.Errorf("%s: connection ended: %w", h.Name, err))
		stop()
		for i := len(cl.hops) - 1; i >= 0; i-- {
			cl.hops[i].Close()
		}
		close(cl.done)
	}()
	if in.Keepalive > 0 {
		misses := in.KeepaliveMisses
		if misses <= 0 {
			misses = 3
		}
		go cl.keepalive(kctx, in.Keepalive, misses)
	}
	return cl, nil
}

// handshake logs in to h over conn; ssh.NewClientConn has no ctx, so
// ctx ending closes conn to unblock it.
func handshake(ctx context.Context, conn net.Conn, h Host, signers func() ([]ssh.Signer, error)) (*ssh.Client, error) {
	check, algos, err := hostKeyCheck(h)
	if err != nil {
		conn.Close()
		return nil, err
	}
	cfg := &ssh.ClientConfig{
		User:              h.User,
		Auth:              []ssh.AuthMethod{ssh.PublicKeysCallback(signers)},
		HostKeyCallback:   check,
		HostKeyAlgorithms: algos,
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	sc, chans, reqs, err := ssh.NewClientConn(conn, h.Addr(), cfg)
	if !stop() {
		if err == nil {
			sc.Close()
		}
		return nil, fmt.Errorf("%s: ssh handshake with %s: %w", h.Name, h.Addr(), context.Cause(ctx))
	}
	if err != nil {
		conn.Close()
		if errors.Is(err, ErrHostKey) {
			return nil, err
		}
		if strings.Contains(err.Error(), "unable to authenticate") {
			return nil, fmt.Errorf("%s: login as %s at %s refused (offered %s and the agent's keys, if any): add one of their public keys to ~%s/.ssh/authorized_keys on the host, or name the right key with ?keyfile=: %w",
				h.Name, h.User, h.Addr(), orNone(h.KeyFiles), h.User, err)
		}
		return nil, fmt.Errorf("%s: ssh handshake with %s: %w", h.Name, h.Addr(), err)
	}
	return ssh.NewClient(sc, chans, reqs), nil
}

func orNone(files []string) string {
	if len(files) == 0 {
		return "no key file"
	}
	return strings.Join(files, ", ")
}

// loadSigners reads h's key files and connects to the agent. A key file
// that is missing or passphrase-protected is skipped (the agent may hold
// it); no key at all is an error.
func loadSigners(h Host, agentSocket string) (func() ([]ssh.Signer, error), net.Conn, error) {
	var signers []ssh.Signer
	var skipped []string
	for _, f := range h.KeyFiles {
		data, err := os.ReadFile(f)
		if err != nil {
			skipped = append(skipped, fmt.Sprintf("%s (%v)", f, err))
			continue
		}
		s, err := ssh.ParsePrivateKey(data)
		if err != nil {
			skipped = append(skipped, fmt.Sprintf("%s (%v)", f, err))
			continue
		}
		signers = append(signers, s)
	}
	var agentConn net.Conn
	var agentSigners func() ([]ssh.Signer, error)
	if agentSocket != "" {
		c, err := net.Dial("unix", agentSocket)
		if err == nil {
			agentConn = c
			agentSigners = agent.NewClient(c).Signers
		} else {
			skipped = append(skipped, fmt.Sprintf("ssh-agent at %s (%v)", agentSocket, err))
		}
	}
	if len(signers) == 0 && agentSigners == nil {
		return nil, nil, fmt.Errorf("%s: no key to log in with (tried: %s); name a key with ?keyfile= or IdentityFile, or run ssh-agent",
			h.Name, orNone(skipped))
	}
	return func() ([]ssh.Signer, error) {
		all := append([]ssh.Signer(nil), signers...)
		if agentSigners != nil {
			if more, err := agentSigners(); err == nil {
				all = append(all, more...)
			}
		}
		return all, nil
	}, agentConn, nil
}

// keepalive sends a keepalive@openssh.com request every interval and closes
// the connection once misses looks in a row saw no reply to the last one,
// so a host that is gone (no RST, no FIN) is noticed without a command.
func (c *Client) keepalive(ctx context.Context, interval time.Duration, misses int) {
	var answered atomic.Bool
	sent, missed := false, 0
	err := wait.Until(ctx, wait.Input{What: c.host.Name + " to stop answering keepalives", Interval: interval}, func(context.Context) (bool, string, error) {
		if answered.Swap(false) || !sent {
			missed = 0
		} else {
			missed++
		}
		if missed >= misses {
			return false, "", fmt.Errorf("%s: lost: %d keepalives in a row (every %s) got no answer", c.host.Name, missed, interval)
		}
		sent = true
		go func() {
			// Any reply, even a refusal, shows the host is there; an
			// error means the connection ended, which Wait reports.
			if _, _, err := c.ssh.SendRequest("keepalive@openssh.com", true, nil); err == nil {
				answered.Store(true)
			}
		}()
		return false, fmt.Sprintf("%d unanswered", missed), nil
	})
	if err != nil && !wait.IsTimeout(err) {
		c.setErr(err)
		c.ssh.Close()
	}
}

func (c *Client) setErr(err error) { c.errOnce.Do(func() { c.err = err }) }

// Host is the host this client is connected to.
func (c *Client) Host() Host { return c.host }

// Done is closed when the connection has ended, for whatever reason.
func (c *Client) Done() <-chan struct{} { return c.done }

// Err says why the connection ended (lost keepalives, EOF, Close); nil
// while it lasts.
func (c *Client) Err() error {
	select {
	case <-c.done:
		return c.err
	default:
		return nil
	}
}

// Close ends the connection and its hops.
func (c *Client) Close() error {
	c.setErr(fmt.Errorf("%s: closed", c.host.Name))
	c.stop()
	err := c.ssh.Close()
	<-c.done
	if errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}
