package wait_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/drivelab/drivelab/framework/wait"
)

const tick = 2 * time.Millisecond

// counting returns a probe that is done on look n (0: never) and says
// which look it is, and the number of looks so far.
func counting(n int) (wait.Probe, *int) {
	looks := 0
	return func(context.Context) (bool, string, error) {
		looks++
		return looks == n, "look " + string(rune('0'+looks%10)), nil
	}, &looks
}

func TestDoneAtTheFirstLookReturnsAtOnce(t *testing.T) {
	probe, looks := counting(1)
	start := time.Now()
	// An interval far longer than the limit: a wait for it would show.
	if err := wait.Until(context.Background(), wait.Input{What: "x", Interval: time.Hour, Timeout: 2 * time.Second}, probe); err != nil {
		t.Fatal(err)
	}
	if *looks != 1 || time.Since(start) > time.Second {
		t.Fatalf("%d looks in %s, want one at once", *looks, time.Since(start))
	}
}

func TestDoneAfterSeveralLooks(t *testing.T) {
	probe, looks := counting(4)
	start := time.Now()
	if err := wait.Until(context.Background(), wait.Input{What: "x", Interval: 20 * time.Millisecond}, probe); err != nil {
		t.Fatal(err)
	}
	if *looks != 4 {
		t.Fatalf("%d looks, want 4", *looks)
	}
	if took := time.Since(start); took < 60*time.Millisecond {
		t.Fatalf("4 looks took %s: the interval between them was not kept", took)
	}
}

func TestTimeoutNamesWhatHowLongAndTheLastState(t *testing.T) {
	probe, looks := counting(0)
	err := wait.Until(context.Background(), wait.Input{What: "the gate", Interval: tick, Timeout: 50 * time.Millisecond}, probe)
	var te *wait.TimeoutError
	if !errors.As(err, &te) || !wait.IsTimeout(err) {
		t.Fatalf("err = %v, want a *TimeoutError", err)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("%v does not wrap context.DeadlineExceeded", err)
	}
	if te.Limit != 50*time.Millisecond || te.Elapsed < 50*time.Millisecond || te.Looks != *looks || te.Looks < 2 {
		t.Errorf("TimeoutError %+v after %d looks", te, *looks)
	}
	last := "look " + string(rune('0'+*looks%10))
	for _, want := range []string{"waiting for the gate: gave up after 50ms (looked ", " times in ", "; last seen: " + last + ": context deadline exceeded"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q lacks %q", err, want)
		}
	}
	if te.State != last {
		t.Errorf("State = %q, want the last look's %q", te.State, last)
	}
}

func TestAProbesErrorEndsTheWaitAtOnce(t *testing.T) {
	broken := errors.New("the guest stopped")
	looks := 0
	err := wait.Until(context.Background(), wait.Input{What: "x", Interval: tick, Timeout: 2 * time.Second}, func(context.Context) (bool, string, error) {
		looks++
		if looks == 3 {
			return false, "", broken
		}
		return false, "running", nil
	})
	if err != broken || looks != 3 {
		t.Fatalf("err = %v after %d looks; want the probe's own error, unwrapped, after 3", err, looks)
	}
}

func TestCancelEndsTheWaitWithItsCause(t *testing.T) {
	ctx, cancel := context.WithCancelCause(context.Background())
	interrupted := errors.New("interrupt")
	looks := 0
	err := wait.Until(ctx, wait.Input{What: "room on the host", Interval: time.Hour, Timeout: time.Hour}, func(context.Context) (bool, string, error) {
		looks++
		cancel(interrupted)
		return false, "memory: run a holds 900 MiB", nil
	})
	if !errors.Is(err, interrupted) || looks != 1 {
		t.Fatalf("err = %v after %d looks; want the cancel's cause after one", err, looks)
	}
	var te *wait.TimeoutError
	if !errors.As(err, &te) || te.Limit != 0 {
		t.Fatalf("%#v: the caller's context, not the limit, ended it", te)
	}
	if want := "waiting for room on the host: gave up after "; !strings.HasPrefix(err.Error(), want) ||
		!strings.HasSuffix(err.Error(), " (looked once); last seen: memory: run a holds 900 MiB: interrupt") {
		t.Fatalf("%q", err)
	}
}

// The first look happens even on an ended context, as an immediate poll
// does: a lock that is free is taken however late it is.
func TestAnEndedContextStillGetsOneLook(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	probe, looks := counting(1)
	if err := wait.Until(ctx, wait.Input{What: "x", Interval: tick}, probe); err != nil || *looks != 1 {
		t.Fatalf("err %v after %d looks", err, *looks)
	}
	probe, looks = counting(0)
	if err := wait.Until(ctx, wait.Input{What: "x", Interval: tick}, probe); !errors.Is(err, context.Canceled) || *looks != 1 {
		t.Fatalf("err %v after %d looks", err, *looks)
	}
}

func TestNoIntervalIsRefused(t *testing.T) {
	probe, looks := counting(0)
	err := wait.Until(context.Background(), wait.Input{What: "x"}, probe)
	if err == nil || *looks != 0 || !strings.Contains(err.Error(), "no interval") {
		t.Fatalf("err %v after %d looks", err, *looks)
	}
}
