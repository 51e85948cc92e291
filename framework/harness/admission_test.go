package harness

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/drivelab/drivelab/framework/config"
	"github.com/drivelab/drivelab/framework/platform"
	"github.com/drivelab/drivelab/framework/vm"
)

func TestAdmissible(t *testing.T) {
	b := platform.Budget{BootingVCPUs: 4, MemoryMiB: 20000}
	run := func(name string, vcpus, mem int, booting bool) Claim {
		return Claim{Run: name, VCPUs: vcpus, MemoryMiB: mem, Booting: booting}
	}
	me := run("me", 4, 9000, true)
	for _, tc := range []struct {
		name   string
		me     Claim
		others []Claim
		wait   string // "" admitted
		err    string
	}{
		{"alone", me, nil, "", ""},
		{"alone, more vCPUs than the budget", run("me", 9, 9000, true), nil, "", ""},
		{"beside a run that checks", me, []Claim{run("a", 4, 9000, false)}, "", ""},
		{"beside a booting run", me, []Claim{run("a", 4, 9000, true)}, "vCPUs: runs a boot 4 vCPUs", ""},
		{"small enough beside a booting run", run("me", 1, 1000, true), []Claim{run("a", 3, 9000, true)}, "", ""},
		{"memory taken", me, []Claim{run("a", 4, 9000, false), run("b", 1, 3000, false)}, "memory: runs a, b hold 12000 MiB", ""},
		{"never fits", run("me", 1, 30000, true), nil, "", "more than this host gives runs (20000 MiB)"},
		{"shared bridge held", Claim{Run: "me", Exclusive: "bridge br0"}, []Claim{{Run: "a", Exclusive: "bridge br0"}}, "run a, which holds bridge br0", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wait, err := admissible(tc.me, tc.others, b)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("got %v, want an error saying %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if (tc.wait == "") != (wait == "") || !strings.Contains(wait, tc.wait) {
				t.Errorf("waits for %q, want %q", wait, tc.wait)
			}
		})
	}
}

func TestDefaultBudget(t *testing.T) {
	if b := DefaultBudget(config.AccelTCG, 2, 24000); b.BootingVCPUs != 4 || b.MemoryMiB != 24000-2048 {
		t.Errorf("TCG on 2 cores, 24000 MiB: %+v", b)
	}
	if b := DefaultBudget(config.AccelKVM, 16, 1000); b.BootingVCPUs != 64 || b.MemoryMiB != 0 {
		t.Errorf("KVM on 16 cores, 1000 MiB: %+v", b)
	}
}

// A second run waits while the first boots, says so, and is admitted once
// the first is booted; a claim whose process is gone holds nothing.
func TestAdmitWaitsForABootingRun(t *testing.T) {
	dir := t.TempDir()
	var said []string
	input := func(run string) AdmitInput {
		return AdmitInput{
			Claim:  Claim{Run: run, Owner: vm.ProcessOwner(run, ""), VCPUs: 4, MemoryMiB: 1000, Booting: true},
			Budget: platform.Budget{BootingVCPUs: 4, MemoryMiB: 10000},
			Dir:    dir, Poll: 5 * time.Millisecond, Report: time.Hour,
			Progress: func(f string, a ...any) { said = append(said, fmt.Sprintf(f, a...)) },
		}
	}
	ctx := context.Background()
	first, err := Admit(ctx, input("first"))
	if err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, err := Admit(short, input("second")); err == nil || !strings.Contains(err.Error(), "never admitted") {
		t.Fatalf("second run beside a booting one: %v, want it kept waiting", err)
	}
	if len(said) == 0 || !strings.Contains(said[0], "run second waits for vCPUs: runs first boot 4 vCPUs") {
		t.Errorf("the waiting run said %q", said)
	}
	if err := first.Booted(); err != nil {
		t.Fatal(err)
	}
	second, err := Admit(ctx, input("second"))
	if err != nil {
		t.Fatalf("after the first booted: %v", err)
	}
	claims, err := Claims(dir)
	if err != nil || len(claims) != 2 {
		t.Fatalf("registry holds %+v (%v), want two claims", claims, err)
	}
	for _, tk := range []*Ticket{first, second} {
		if err := tk.Release(); err != nil {
			t.Fatal(err)
		}
	}
	// A killed run's claim (its pid gone) does not keep anyone waiting.
	gone := input("killed")
	gone.Claim.Owner = vm.Owner{Run: "killed", PID: 1 << 30, PIDStart: 1, Boot: gone.Claim.Owner.Boot}
	if err := writeClaim(dir, gone.Claim); err != nil {
		t.Fatal(err)
	}
	short2, cancel2 := context.WithTimeout(ctx, time.Second)
	defer cancel2()
	if _, err := Admit(short2, input("third")); err != nil {
		t.Errorf("a dead run's claim held the host: %v", err)
	}
}
