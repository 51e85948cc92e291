package vm

import (
	"fmt"
	"time"
)

// Sample is one look at a booting guest: what libvirt says of its domain
// and how much its console has grown.
type Sample struct {
	At time.Time
	// Running is false once the domain has stopped, crashed or gone.
	Running bool
	// State is libvirt's state and reason, for messages ("shutoff (crashed)").
	State string
	// CPU is the vCPU time the guest has used since its domain started.
	CPU time.Duration
	// Console is how many bytes the guest has written to its serial console.
	Console int64
}

// Liveness holds the rules that end a boot before any deadline: a guest
// whose domain stopped is dead at once, and a guest that made no progress
// (neither vCPU time nor console output) for Stall is stuck. A slow guest
// on a busy host still makes progress, so it is never failed for slowness
// alone; only the overall deadline (scaled to the host) bounds it.
type Liveness struct {
	// Stall is how long a guest may show no progress before it is stuck.
	Stall time.Duration
	// MinCPU is the vCPU time within Stall that still counts as progress:
	// an idle guest (a panicked kernel, a shell waiting for input) keeps
	// using a little for its timers, so only more than that is work.
	MinCPU time.Duration
}

// DefaultLiveness: an idle guest uses well under 5% of a vCPU even under
// emulation, a booting one far more, even with four guests on two cores.
func DefaultLiveness(stall time.Duration) Liveness {
	return Liveness{Stall: stall, MinCPU: stall / 20}
}

// GuestDeadError reports a domain that stopped before its node was ready.
type GuestDeadError struct{ State string }

func (e *GuestDeadError) Error() string {
	return fmt.Sprintf("dead: its domain stopped (%s) before the node was ready", e.State)
}

// GuestStuckError reports a guest that stopped making progress.
type GuestStuckError struct {
	For time.Duration
	CPU time.Duration // vCPU time used in that span
}

func (e *GuestStuckError) Error() string {
	return fmt.Sprintf("stuck: no progress for %s (Stall): %.1fs of vCPU time and no console output in that span",
		e.For.Round(time.Second), e.CPU.Seconds())
}

// livenessWatch applies Liveness to a guest's samples in order.
type livenessWatch struct {
	rules Liveness
	// mark is the last sample that counted as progress.
	mark    Sample
	started bool
}

// observe takes the next sample and returns a *GuestDeadError or
// *GuestStuckError once the rules say so.
func (w *livenessWatch) observe(s Sample) error {
	if !s.Running {
		return &GuestDeadError{State: s.State}
	}
	if !w.started || s.Console > w.mark.Console || s.CPU-w.mark.CPU > w.rules.MinCPU {
		w.mark, w.started = s, true
		return nil
	}
	if idle := s.At.Sub(w.mark.At); idle >= w.rules.Stall {
		return &GuestStuckError{For: idle, CPU: s.CPU - w.mark.CPU}
	}
	return nil
}
