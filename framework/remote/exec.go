package remote

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

	"golang.org/x/crypto/ssh"
)

// Quote returns argv as one POSIX shell command line that runs exactly
// argv: sshd hands the command to the login shell, so every argument is
// single-quoted unless it is made only of characters no shell interprets.
func Quote(argv ...string) string {
	q := make([]string, len(argv))
	for i, a := range argv {
		q[i] = quoteArg(a)
	}
	return strings.Join(q, " ")
}

func quoteArg(a string) string {
	if a == "" {
		return "''"
	}
	safe := true
	for _, r := range a {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./=:,+@%", r)) {
			safe = false
			break
		}
	}
	if safe {
		return a
	}
	return "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
}

// stderrTail is how much of a command's stderr errors quote.
const stderrTail = 4 << 10

// tailBuffer keeps the last stderrTail bytes written to it; it is written
// by x/crypto/ssh's copy goroutine while errors may read it.
type tailBuffer struct {
	mu  sync.Mutex
	buf []byte
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if over := len(b.buf) - stderrTail; over > 0 {
		b.buf = append(b.buf[:0], b.buf[over:]...)
	}
	return len(p), nil
}

func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.TrimSpace(string(b.buf))
}

// lockedBuffer is written by x/crypto/ssh's copy goroutine, which may
// outlive a command stopped by ctx.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return bytes.Clone(b.buf.Bytes())
}

// session opens a session once one of the client's slots is free; release
// closes it and frees the slot.
func (c *Client) session(ctx context.Context) (*ssh.Session, func(), error) {
	select {
	case c.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, nil, fmt.Errorf("%s: waiting for one of %d sessions: %w", c.host.Name, cap(c.slots), context.Cause(ctx))
	case <-c.done:
		return nil, nil, c.err
	}
	s, err := c.ssh.NewSession()
	if err != nil {
		<-c.slots
		if e := c.Err(); e != nil {
			err = errors.Join(err, e)
		}
		return nil, nil, fmt.Errorf("%s: new session: %w", c.host.Name, err)
	}
	var once sync.Once
	return s, func() { once.Do(func() { s.Close(); <-c.slots }) }, nil
}

// Run runs argv on the host, each argument quoted (no shell expansion of
// them), and returns its stdout. A non-zero exit is an error quoting the
// command, its status and the tail of its stderr. ctx ending kills the
// command (SIGKILL, then the session is closed).
func (c *Client) Run(ctx context.Context, argv ...string) ([]byte, error) {
	return c.RunInput(ctx, nil, argv...)
}

// RunInput is Run with stdin read from r (nil: empty).
func (c *Client) RunInput(ctx context.Context, stdin io.Reader, argv ...string) ([]byte, error) {
	if len(argv) == 0 {
		return nil, fmt.Errorf("%s: run: no command", c.host.Name)
	}
	return c.exec(ctx, stdin, Quote(argv...), Quote(argv...))
}

// Script runs script with /bin/sh -c on the host, args as $1..$n (each
// quoted, so the script itself decides what is expanded); for pipelines and
// redirections the caller writes.
func (c *Client) Script(ctx context.Context, script string, args ...string) ([]byte, error) {
	return c.scriptInput(ctx, nil, script, args...)
}

func (c *Client) scriptInput(ctx context.Context, stdin io.Reader, script string, args ...string) ([]byte, error) {
	argv := append([]string{"/bin/sh", "-c", script, "sh"}, args...)
	return c.exec(ctx, stdin, Quote(argv...), "sh -c "+quoteArg(firstLine(script))+" "+Quote(args...))
}

// exec runs cmd; shown is how errors quote it.
func (c *Client) exec(ctx context.Context, stdin io.Reader, cmd, shown string) ([]byte, error) {
	s, release, err := c.session(ctx)
	if err != nil {
		return nil, err
	}
	defer release()
	var stdout lockedBuffer
	var stderr tailBuffer
	s.Stdout, s.Stderr = &stdout, &stderr
	if stdin != nil {
		s.Stdin = stdin
	}
	if err := s.Start(cmd); err != nil {
		return nil, fmt.Errorf("%s: start `%s`: %w", c.host.Name, shown, err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Wait() }()
	select {
	case err = <-done:
	case <-ctx.Done():
		_ = s.Signal(ssh.SIGKILL)
		// No wait for Wait: on a lost host it lasts until keepalives give up.
		return nil, fmt.Errorf("%s: `%s` stopped: %w", c.host.Name, shown, context.Cause(ctx))
	}
	if err != nil {
		return stdout.Bytes(), c.exitError(shown, err, stderr.String())
	}
	return stdout.Bytes(), nil
}

// exitError describes how a command ended.
func (c *Client) exitError(shown string, err error, stderr string) error {
	return c.ended(fmt.Sprintf("%s: `%s`", c.host.Name, shown), err, stderr)
}

// ended is err, from a session's Wait, said plainly after what.
func (c *Client) ended(what string, err error, stderr string) error {
	var exit *ssh.ExitError
	var missing *ssh.ExitMissingError
	switch {
	case errors.As(err, &exit) && exit.Signal() != "":
		err = fmt.Errorf("killed by SIG%s", exit.Signal())
	case errors.As(err, &exit):
		err = &ExitError{Code: exit.ExitStatus()}
	case errors.As(err, &missing):
		// Most often the connection ended under the command: say why.
		if e := c.Err(); e != nil {
			err = fmt.Errorf("%w: %w", err, e)
		}
	}
	if stderr != "" {
		return fmt.Errorf("%s: %w: %s", what, err, stderr)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// ExitError is a command that exited with a non-zero status.
type ExitError struct{ Code int }

func (e *ExitError) Error() string { return fmt.Sprintf("exited %d", e.Code) }

func firstLine(s string) string {
	line, _, cut := strings.Cut(strings.TrimSpace(s), "\n")
	if cut || len(line) > 60 {
		return line[:min(len(line), 60)] + "…"
	}
	return line
}
