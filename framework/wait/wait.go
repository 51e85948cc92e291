// Package wait is the harness's one way to wait for something: look, and
// look again every interval, until it is there, a look says it never will
// be, or the context ends. Every poll loop of the framework and the
// scenarios goes through Until, so each says the same things when it gives
// up: what it awaited, for how long, and what it saw last.
//
// Its shape follows k8s.io/apimachinery's wait.PollUntilContextTimeout with
// immediate=true (the first look happens at once, even on an ended
// context) and the NixOS test driver's retry (a timeout names the action);
// the interval is always a named one (config.Intervals or a constant of
// framework/config), as Cluster API's e2e intervals come from its config.
package wait

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Probe looks once. done ends the wait successfully; otherwise state says,
// in a few words, what it saw (the timeout error quotes the last one). An
// error ends the wait at once and Until returns it unchanged: return one
// only when waiting longer cannot help; report a passing failure (a refused
// connection, a missing pid file) as state. ctx is Until's, bounded by
// Input.Timeout.
type Probe func(ctx context.Context) (done bool, state string, err error)

// Input says what is awaited and how often to look.
type Input struct {
	// What is awaited, as the error says it: "waiting for <What>: ...".
	What string
	// Interval is the pause between looks: config.Intervals.Poll or a
	// named constant of framework/config, never a bare number.
	Interval time.Duration
	// Timeout, when positive, bounds the wait besides ctx.
	Timeout time.Duration
}

// Until calls probe at once and then every Interval until it reports done,
// returns an error, or ctx ends (or Timeout passes). A probe's error is
// returned as is; an ended wait returns a *TimeoutError, which wraps
// context.Cause, so errors.Is(err, context.DeadlineExceeded) or
// errors.Is(err, context.Canceled) still tell why.
func Until(ctx context.Context, in Input, probe Probe) error {
	if in.Interval <= 0 {
		return fmt.Errorf("waiting for %s: no interval to look again after (a zero config.Intervals?)", in.What)
	}
	outer := ctx
	if in.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, in.Timeout)
		defer cancel()
	}
	start := time.Now()
	timer := time.NewTimer(in.Interval)
	defer timer.Stop()
	var state string
	for looks := 1; ; looks++ {
		done, seen, err := probe(ctx)
		switch {
		case err != nil:
			return err
		case done:
			return nil
		}
		state = seen
		timer.Reset(in.Interval)
		select {
		case <-ctx.Done():
			e := &TimeoutError{What: in.What, Elapsed: time.Since(start), Looks: looks, State: state, Cause: context.Cause(ctx)}
			if in.Timeout > 0 && outer.Err() == nil {
				e.Limit = in.Timeout
			}
			return e
		case <-timer.C:
		}
	}
}

// TimeoutError is a wait that ended before its probe reported done.
type TimeoutError struct {
	What string
	// Limit is Input.Timeout when that is what ended the wait; 0 when the
	// caller's context ended first.
	Limit time.Duration
	// Elapsed is how long the wait lasted, Looks how often it looked.
	Elapsed time.Duration
	Looks   int
	// State is what the last look saw ("" if it said nothing).
	State string
	// Cause is context.Cause of the context that ended.
	Cause error
}

func (e *TimeoutError) Error() string {
	looked := "looked once"
	if e.Looks != 1 {
		looked = fmt.Sprintf("looked %d times", e.Looks)
	}
	after := fmt.Sprintf("gave up after %s (%s)", e.Elapsed.Round(time.Millisecond), looked)
	if e.Limit > 0 {
		after = fmt.Sprintf("gave up after %s (%s in %s)", e.Limit, looked, e.Elapsed.Round(time.Millisecond))
	}
	last := ""
	if e.State != "" {
		last = "; last seen: " + e.State
	}
	return fmt.Sprintf("waiting for %s: %s%s: %v", e.What, after, last, e.Cause)
}

func (e *TimeoutError) Unwrap() error { return e.Cause }

// IsTimeout reports whether err is, or wraps, a wait that gave up.
func IsTimeout(err error) bool {
	var t *TimeoutError
	return errors.As(err, &t)
}
