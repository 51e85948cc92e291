package main

import (
	"testing"

	"github.com/drivelab/drivelab/framework/config"
	"github.com/drivelab/drivelab/framework/harness"
)

// Lint checks a topology against the memory admission lets runs have, so a
// topology lint passes is never one admission refuses outright.
func TestLintLeavesTheHostWhatAdmissionLeaves(t *testing.T) {
	h, err := thisHost()
	if err != nil {
		t.Fatal(err)
	}
	for _, accel := range []config.Accel{config.AccelKVM, config.AccelTCG} {
		if b := harness.DefaultBudget(accel, h.CPUs, h.MemoryMiB); h.MemoryMiB-h.ReservedMiB != b.MemoryMiB {
			t.Errorf("%s: lint gives guests %d MiB, admission %d MiB", accel, h.MemoryMiB-h.ReservedMiB, b.MemoryMiB)
		}
	}
}
