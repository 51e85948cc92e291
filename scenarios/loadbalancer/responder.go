package loadbalancer

import (
	"bufio"
	"cmp"
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/drivelab/drivelab/framework/sshx"
	"github.com/drivelab/drivelab/framework/verify"
)

// responder is a command on a node that answers each line on its stdin
// with some output and then an end line: one process start serves a
// check's many questions, where a command per question pays a session and a
// start each (what costs a guest most under emulation). One check asks it,
// one question after the other.
type responder struct {
	// what names it in messages.
	what string
	// in and out are the command's stdin and stdout; stop kills it.
	in   io.Writer
	out  *bufio.Reader
	stop func() error
	// end is the line, without newline, that ends each answer.
	end     string
	timeout time.Duration
	// ended says why the responder is gone; every later ask fails with it.
	ended error
}

// startResponder starts cmd on c; the caller closes it.
func startResponder(ctx context.Context, env *verify.Env, c *sshx.Client, what, cmd, end string) (*responder, error) {
	p, err := c.Start(ctx, cmd)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return &responder{what: what, in: p.Stdin, out: bufio.NewReader(p.Stdout), stop: p.Close, end: end, timeout: env.Intervals.Command}, nil
}

// Close kills the command.
func (r *responder) Close() { r.stop() }

// ask returns the next answer, without its end line, within the Command
// interval. An ask that fails ends the responder: an answer cut short would
// still be on its way when the next ask came.
func (r *responder) ask(ctx context.Context) (string, error) {
	if r.ended != nil {
		return "", r.ended
	}
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	stopAfter := context.AfterFunc(ctx, r.Close)
	out, err := r.answer()
	stopAfter()
	switch {
	case err != nil && ctx.Err() != nil:
		r.ended = fmt.Errorf("no answer from %s in time: %w", r.what, context.Cause(ctx))
	case err != nil:
		r.ended = fmt.Errorf("%s ended: %w", r.what, err)
	}
	return out, r.ended
}

// answer sends a line and reads the answer up to the end line.
func (r *responder) answer() (string, error) {
	if _, err := io.WriteString(r.in, "\n"); err != nil {
		// The command is gone; its stdout says how it ended.
		_, why := io.Copy(io.Discard, r.out)
		return "", cmp.Or(why, err)
	}
	var b strings.Builder
	for {
		line, err := r.out.ReadString('\n')
		if err != nil {
			return "", err
		}
		if line == r.end+"\n" {
			return b.String(), nil
		}
		b.WriteString(line)
	}
}
