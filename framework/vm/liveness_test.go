package vm

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/drivelab/drivelab/framework/config"
)

// fakeGuest is a progress source: each step advances its clock, vCPU time
// and console as a real guest's samples would.
type fakeGuest struct {
	s Sample
}

func newFakeGuest() *fakeGuest {
	return &fakeGuest{s: Sample{At: time.Unix(1000, 0), Running: true, State: "running"}}
}

func (g *fakeGuest) step(wall, cpu time.Duration, console int64) Sample {
	g.s.At = g.s.At.Add(wall)
	g.s.CPU += cpu
	g.s.Console += console
	return g.s
}

// run feeds n samples, each a second apart, and returns the first error
// and after how many samples it came.
func run(w *livenessWatch, g *fakeGuest, n int, cpuPerSecond time.Duration, consoleEvery int) (error, int) {
	for i := 1; i <= n; i++ {
		var out int64
		if consoleEvery > 0 && i%consoleEvery == 0 {
			out = 80
		}
		if err := w.observe(g.step(time.Second, cpuPerSecond, out)); err != nil {
			return err, i
		}
	}
	return nil, n
}

func TestLivenessRules(t *testing.T) {
	rules := DefaultLiveness(60 * time.Second) // MinCPU 3s per minute
	for _, tc := range []struct {
		name         string
		cpuPerSecond time.Duration
		consoleEvery int
		seconds      int
		stuckAfter   int // 0: never stuck
	}{
		// A guest booting on a host shared with three others and a CPU hog:
		// a fifth of a core, silent for minutes (cloud-init imports Python).
		{"slow but working, silent", 200 * time.Millisecond, 0, 600, 0},
		// A guest waiting on a device timeout prints a status line now and then.
		{"idle but printing", 10 * time.Millisecond, 20, 600, 0},
		// A panicked kernel or a shell waiting for input: timers only.
		{"idle and silent", 10 * time.Millisecond, 0, 600, 61},
		// A guest that spins (a hung busy loop) is not stuck by this rule:
		// the deadline bounds it.
		{"spinning", time.Second, 0, 600, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := &livenessWatch{rules: rules}
			err, at := run(w, newFakeGuest(), tc.seconds, tc.cpuPerSecond, tc.consoleEvery)
			var stuck *GuestStuckError
			switch {
			case tc.stuckAfter == 0 && err != nil:
				t.Fatalf("failed a live guest after %ds: %v", at, err)
			case tc.stuckAfter > 0 && !errors.As(err, &stuck):
				t.Fatalf("a stuck guest was not failed within %ds (err %v)", tc.seconds, err)
			case tc.stuckAfter > 0 && at != tc.stuckAfter:
				t.Fatalf("stuck reported after %ds, want %ds (Stall 60s)", at, tc.stuckAfter)
			}
		})
	}
}

func TestLivenessDeadAtOnce(t *testing.T) {
	w := &livenessWatch{rules: DefaultLiveness(time.Minute)}
	g := newFakeGuest()
	if err, _ := run(w, g, 30, time.Second, 1); err != nil {
		t.Fatal(err)
	}
	g.s.Running, g.s.State = false, "shut off: QEMU crashed or was killed"
	err := w.observe(g.step(time.Second, 0, 0))
	var dead *GuestDeadError
	if !errors.As(err, &dead) || !strings.Contains(err.Error(), "QEMU crashed or was killed") {
		t.Fatalf("a stopped domain gave %v, want dead with its state", err)
	}
}

func TestLivenessProgressResetsTheStall(t *testing.T) {
	w := &livenessWatch{rules: DefaultLiveness(time.Minute)}
	g := newFakeGuest()
	// 50 s idle, one console line, 50 s idle: never a minute without progress.
	if err, at := run(w, g, 50, 0, 0); err != nil {
		t.Fatalf("after %ds: %v", at, err)
	}
	if err := w.observe(g.step(time.Second, 0, 100)); err != nil {
		t.Fatal(err)
	}
	if err, at := run(w, g, 50, 0, 0); err != nil {
		t.Fatalf("the console line did not count as progress: stuck after %ds more: %v", at, err)
	}
	// 4 s of vCPU in one step (more than MinCPU, 3 s) also counts.
	if err := w.observe(g.step(time.Second, 4*time.Second, 0)); err != nil {
		t.Fatal(err)
	}
	if err, at := run(w, g, 59, 0, 0); err != nil {
		t.Fatalf("vCPU work did not count as progress: stuck after %ds more: %v", at, err)
	}
}

func TestDeadlineScale(t *testing.T) {
	for _, tc := range []struct {
		cores, vcpus int
		load, slow   float64
		want         float64
	}{
		{2, 4, 0, 1, 2},      // four 1-vCPU guests on two cores
		{2, 4, 1, 1, 2.5},    // and a CPU hog
		{8, 4, 0, 1, 1},      // a big runner: never shorter than the interval
		{2, 9, 0, 1.5, 6.75}, // the topology's sizes on a slow host
		{2, 2, 0, 0.5, 1},    // a faster host does not shrink the deadline
	} {
		s := NewDeadlineScale(config.AccelTCG, tc.cores, tc.vcpus, tc.load, tc.slow)
		if s.Factor != tc.want {
			t.Errorf("%+v: factor %v, want %v", tc, s.Factor, tc.want)
		}
	}
	s := NewDeadlineScale(config.AccelTCG, 2, 4, 0, 1)
	if got := s.Stretch(10 * time.Minute); got != 20*time.Minute {
		t.Errorf("Stretch(10m) = %v at x2", got)
	}
	if !strings.Contains(s.String(), "x2.00") || !strings.Contains(s.String(), "4 guest vCPUs") {
		t.Errorf("the scale does not say what it is made of: %s", s)
	}
}

func TestCalibrateIsPositive(t *testing.T) {
	if c := calibrate(); c <= 0 || c > 100 {
		t.Fatalf("calibrate() = %v", c)
	}
}

func TestLimitsTCGCap(t *testing.T) {
	l := Limits{}
	if got := l.forAccel(config.AccelTCG).MaxVCPUs; got != TCGVCPUs {
		t.Errorf("TCG without E2E_MAX_VCPUS caps at %d, want %d", got, TCGVCPUs)
	}
	if got := l.forAccel(config.AccelKVM).MaxVCPUs; got != 0 {
		t.Errorf("KVM must keep the topology's sizes, got cap %d", got)
	}
	if got := (Limits{VCPUsSet: true}).forAccel(config.AccelTCG).MaxVCPUs; got != 0 {
		t.Errorf("E2E_MAX_VCPUS=0 must lift the TCG cap, got %d", got)
	}
}
