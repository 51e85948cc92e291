package sshx

import (
	"context"
	"errors"
	"fmt"
	"io"

	"golang.org/x/crypto/ssh"
)

// PTY is the terminal an interactive session gets.
type PTY struct {
	// Term is the terminal type ($TERM); empty means xterm.
	Term          string
	Width, Height int
	// Resize carries the new width and height whenever the local terminal
	// changes size; nil when it never does.
	Resize <-chan [2]int
}

// StreamInput is a session wired to the caller's own streams.
type StreamInput struct {
	// Cmd is the command to run; empty starts the user's login shell.
	Cmd            string
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// PTY asks for a terminal, as `ssh -t` does; nil runs without one.
	PTY *PTY
}

// Stream runs a session with the caller's streams, for `e2e ssh`, and
// returns the remote exit status. Unlike Run it is not bounded by a
// Command interval: a shell lasts as long as its user wants; ctx ending
// kills it.
func (c *Client) Stream(ctx context.Context, in StreamInput) (int, error) {
	s, closeSession, err := c.newSession(ctx)
	if err != nil {
		return -1, err
	}
	defer closeSession()
	// Wait returns once the remote command exits, even while a terminal's
	// stdin is still open (x/crypto/ssh closes its stdin copy then).
	s.Stdin, s.Stdout, s.Stderr = in.Stdin, in.Stdout, in.Stderr
	if p := in.PTY; p != nil {
		term := p.Term
		if term == "" {
			term = "xterm"
		}
		modes := ssh.TerminalModes{ssh.ECHO: 1, ssh.TTY_OP_ISPEED: 38400, ssh.TTY_OP_OSPEED: 38400}
		if err := s.RequestPty(term, p.Height, p.Width, modes); err != nil {
			return -1, fmt.Errorf("%s: no terminal: %w", c.name, err)
		}
		if p.Resize != nil {
			go func() {
				for size := range p.Resize {
					s.WindowChange(size[1], size[0])
				}
			}()
		}
	}
	if in.Cmd == "" {
		err = s.Shell()
	} else {
		err = s.Start(in.Cmd)
	}
	if err != nil {
		return -1, fmt.Errorf("%s: start: %w", c.name, err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Wait() }()
	select {
	case err = <-done:
	case <-ctx.Done():
		_ = s.Signal(ssh.SIGKILL)
		return -1, fmt.Errorf("%s: session ended: %w", c.name, context.Cause(ctx))
	}
	var exit *ssh.ExitError
	switch {
	case err == nil:
		return 0, nil
	case errors.As(err, &exit):
		return exit.ExitStatus(), nil
	}
	return -1, fmt.Errorf("%s: session: %w", c.name, err)
}
