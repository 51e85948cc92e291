// Package sshx is the harness's SSH layer: per-run ed25519 keys, clients with
// pinned host keys, jumps through another node, and commands bounded by ctx.
package sshx

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"

	"golang.org/x/crypto/ssh"
)

// KeyPair is an ed25519 key in the forms the harness needs.
type KeyPair struct {
	Signer ssh.Signer
	// PrivateOpenSSH is the private key in OpenSSH PEM form (cloud-init's ssh_keys).
	PrivateOpenSSH string
	// AuthorizedKey is the public key as one authorized_keys line, without newline.
	AuthorizedKey string
}

// PublicKey is the key's public half.
func (k KeyPair) PublicKey() ssh.PublicKey { return k.Signer.PublicKey() }

// NewKeyPair makes a fresh ed25519 key pair; comment ends up in the public line.
func NewKeyPair(comment string) (KeyPair, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return KeyPair{}, err
	}
	block, err := ssh.MarshalPrivateKey(priv, comment)
	if err != nil {
		return KeyPair{}, err
	}
	return ParseKeyPair(pem.EncodeToMemory(block))
}

// ParseKeyPair reads an OpenSSH private key written by NewKeyPair.
func ParseKeyPair(privatePEM []byte) (KeyPair, error) {
	signer, err := ssh.ParsePrivateKey(privatePEM)
	if err != nil {
		return KeyPair{}, fmt.Errorf("parse private key: %w", err)
	}
	line := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(signer.PublicKey())))
	return KeyPair{Signer: signer, PrivateOpenSSH: string(privatePEM), AuthorizedKey: line}, nil
}

// DialFunc opens a TCP connection; the lab's namespace dialer is one.
type DialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// Target says whom to log in to and how.
type Target struct {
	// Name is the node name, used in messages.
	Name string
	// Addr is host:port.
	Addr string
	User string
	Auth []ssh.AuthMethod
	// HostKey is pinned: a server presenting another key is refused.
	HostKey ssh.PublicKey
	// pick, when set, chooses each login attempt after "none" from what the
	// server answered so far, instead of Auth (see JumpWrongThenRight).
	pick ssh.ClientAuthCallback
}

// SessionLimit caps the sessions open at once on one connection. OpenSSH
// refuses a session past MaxSessions (10 by default) with "open failed", and
// frees a closed session's slot only on a later turn of its loop; the checks,
// running concurrently from the client node, met that limit. The margin
// covers the lag.
const SessionLimit = 6

// Client is an SSH connection to one node.
type Client struct {
	name string
	c    *ssh.Client
	// sessions holds one token per open session, at most SessionLimit.
	sessions chan struct{}
}

// Name is the node this client is logged in to.
func (c *Client) Name() string { return c.name }

// Close ends the connection.
func (c *Client) Close() error { return c.c.Close() }

var (
	// ErrAuth marks a login the server refused (as opposed to a network failure).
	ErrAuth = errors.New("authentication refused")
	// ErrHostKey marks a server whose host key is not the pinned one.
	ErrHostKey = errors.New("host key mismatch")
)

// Dial connects to t over a connection made by dial.
func Dial(ctx context.Context, dial DialFunc, t Target) (*Client, error) {
	conn, err := dial(ctx, "tcp", t.Addr)
	if err != nil {
		return nil, fmt.Errorf("%s: connect %s: %w", t.Name, t.Addr, err)
	}
	return handshake(ctx, conn, t)
}

// Jump connects to t through c, as `ssh -J`: the TCP connection to t is opened
// by c's sshd, so t sees the connection coming from c's node.
func (c *Client) Jump(ctx context.Context, t Target) (*Client, error) {
	conn, err := c.c.DialContext(ctx, "tcp", t.Addr)
	if err != nil {
		return nil, fmt.Errorf("%s: connect %s through %s: %w", t.Name, t.Addr, c.name, err)
	}
	return handshake(ctx, conn, t)
}

func handshake(ctx context.Context, conn net.Conn, t Target) (*Client, error) {
	if t.HostKey == nil {
		conn.Close()
		return nil, fmt.Errorf("%s: no pinned host key; the harness never trusts an unknown host key", t.Name)
	}
	cfg := &ssh.ClientConfig{
		User:         t.User,
		Auth:         t.Auth,
		AuthCallback: t.pick,
		HostKeyCallback: func(_ string, _ net.Addr, key ssh.PublicKey) error {
			if !bytes.Equal(key.Marshal(), t.HostKey.Marshal()) {
				return fmt.Errorf("%w: %s presented %s, pinned %s", ErrHostKey, t.Name,
					ssh.FingerprintSHA256(key), ssh.FingerprintSHA256(t.HostKey))
			}
			return nil
		},
		HostKeyAlgorithms: []string{t.HostKey.Type()},
	}
	// ssh.NewClientConn has no ctx: closing the conn unblocks it.
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	sc, chans, reqs, err := ssh.NewClientConn(conn, t.Addr, cfg)
	if !stop() {
		if err == nil {
			sc.Close()
		}
		return nil, fmt.Errorf("%s: ssh handshake with %s: %w", t.Name, t.Addr, context.Cause(ctx))
	}
	if err != nil {
		conn.Close()
		if strings.Contains(err.Error(), "unable to authenticate") {
			return nil, fmt.Errorf("%s: login as %s at %s: %w", t.Name, t.User, t.Addr, ErrAuth)
		}
		return nil, fmt.Errorf("%s: ssh handshake with %s: %w", t.Name, t.Addr, err)
	}
	return &Client{name: t.Name, c: ssh.NewClient(sc, chans, reqs), sessions: make(chan struct{}, SessionLimit)}, nil
}

// newSession opens a session once fewer than SessionLimit are open; the
// returned close ends it and frees its place.
func (c *Client) newSession(ctx context.Context) (*ssh.Session, func(), error) {
	select {
	case c.sessions <- struct{}{}:
	case <-ctx.Done():
		return nil, nil, fmt.Errorf("%s: waiting for one of %d sessions: %w", c.name, SessionLimit, context.Cause(ctx))
	}
	s, err := c.c.NewSession()
	if err != nil {
		<-c.sessions
		return nil, nil, fmt.Errorf("%s: new session: %w", c.name, err)
	}
	return s, func() { s.Close(); <-c.sessions }, nil
}

// Result is what a remote command produced.
type Result struct {
	Stdout, Stderr string
	ExitCode       int
}

// Run executes cmd and waits for it, or kills it when ctx ends. A non-zero
// exit is not an error: it is in Result.ExitCode.
func (c *Client) Run(ctx context.Context, cmd string) (Result, error) {
	return c.RunInput(ctx, cmd, nil)
}

// RunInput is Run with stdin fed from input.
func (c *Client) RunInput(ctx context.Context, cmd string, input []byte) (Result, error) {
	s, closeSession, err := c.newSession(ctx)
	if err != nil {
		return Result{}, err
	}
	defer closeSession()
	var stdout, stderr lockedBuffer
	s.Stdout, s.Stderr = &stdout, &stderr
	if input != nil {
		s.Stdin = bytes.NewReader(input)
	}
	done := make(chan error, 1)
	go func() { done <- s.Run(cmd) }()
	select {
	case err = <-done:
	case <-ctx.Done():
		_ = s.Signal(ssh.SIGKILL)
		return Result{Stdout: stdout.String(), Stderr: stderr.String(), ExitCode: -1},
			fmt.Errorf("%s: %q did not finish: %w", c.name, firstLine(cmd), context.Cause(ctx))
	}
	res := Result{Stdout: stdout.String(), Stderr: stderr.String()}
	var exit *ssh.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		res.ExitCode = exit.ExitStatus()
	default:
		return res, fmt.Errorf("%s: run %q: %w", c.name, firstLine(cmd), err)
	}
	return res, nil
}

// lockedBuffer lets a command that ran out of time return what it printed
// while x/crypto/ssh's copy goroutines may still be writing.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Output runs cmd and returns its stdout, failing on a non-zero exit with
// the command's stderr in the message.
func (c *Client) Output(ctx context.Context, cmd string) (string, error) {
	res, err := c.Run(ctx, cmd)
	if err != nil {
		return "", err
	}
	if res.ExitCode != 0 {
		return res.Stdout, fmt.Errorf("%s: %q exited %d: %s", c.name, firstLine(cmd), res.ExitCode, strings.TrimSpace(res.Stderr))
	}
	return res.Stdout, nil
}

func firstLine(s string) string {
	line, _, cut := strings.Cut(strings.TrimSpace(s), "\n")
	if cut || len(line) > 80 {
		return line[:min(len(line), 80)] + "…"
	}
	return line
}
