package sshx

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"

	"golang.org/x/crypto/ssh"
)

// Process is a command started by Start, whose stdin and stdout the caller
// drives: a helper that answers request after request costs one process
// start, where a command per request pays a start each (the costliest thing
// a guest does under emulation).
type Process struct {
	// Stdin is the command's standard input; closing it sends EOF.
	Stdin io.WriteCloser
	// Stdout is the command's standard output. After the last of it a read
	// returns io.EOF if the command exited 0, and otherwise an error saying
	// how it ended (its status and stderr, or Close, or ctx).
	Stdout io.Reader

	name, cmd string
	session   *ssh.Session
	stdout    *io.PipeWriter
	stderr    lockedBuffer
	stopCtx   func() bool
	release   sync.Once
	free      func()
}

// Start runs cmd and returns it running; ctx ending kills it, as does Close,
// which the caller must call in any case to free the session.
func (c *Client) Start(ctx context.Context, cmd string) (*Process, error) {
	s, closeSession, err := c.newSession(ctx)
	if err != nil {
		return nil, err
	}
	stdin, err := s.StdinPipe()
	if err != nil {
		closeSession()
		return nil, fmt.Errorf("%s: stdin of %q: %w", c.name, firstLine(cmd), err)
	}
	// A pipe rather than the session's own stdout: closing it ends a
	// pending read at once, where the channel waits for the peer.
	r, w := io.Pipe()
	p := &Process{Stdin: stdin, Stdout: r, name: c.name, cmd: firstLine(cmd), session: s, stdout: w, free: closeSession}
	s.Stdout, s.Stderr = w, &p.stderr
	if err := s.Start(cmd); err != nil {
		closeSession()
		return nil, fmt.Errorf("%s: start %q: %w", c.name, p.cmd, err)
	}
	go func() { w.CloseWithError(p.exitError(s.Wait())) }()
	p.stopCtx = context.AfterFunc(ctx, func() {
		p.kill(fmt.Errorf("%s: %q stopped: %w", c.name, p.cmd, context.Cause(ctx)))
	})
	return p, nil
}

// exitError is what reads return once the command has ended with err.
func (p *Process) exitError(err error) error {
	if err == nil {
		return io.EOF
	}
	return fmt.Errorf("%s: %q ended: %w: %s", p.name, p.cmd, err, strings.TrimSpace(p.stderr.String()))
}

// Close kills the command and frees its session; reads return an error
// saying so.
func (p *Process) Close() error {
	p.stopCtx()
	p.kill(fmt.Errorf("%s: %q was closed", p.name, p.cmd))
	return nil
}

// kill ends pending and later reads with why (unless the command ended
// first) and the command with its session.
func (p *Process) kill(why error) {
	p.stdout.CloseWithError(why)
	p.release.Do(func() {
		_ = p.session.Signal(ssh.SIGKILL)
		p.free()
	})
}
