package vm

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// ProcessOwner marks a run's domain as owned by this process on this boot
// of the host, so that a later run can tell a live run's domains from those
// a killed run left behind.
func ProcessOwner(run, node string) Owner {
	o := Owner{Run: run, Node: node, PID: os.Getpid(), Boot: hostBootID()}
	o.PIDStart, _ = processStart(o.PID)
	return o
}

// Alive reports whether the process that owns the domain still runs: the
// same host boot, the pid exists, and it is the same process (its start
// time), not a later one that got the pid.
func (o Owner) Alive() bool {
	if o.PID == 0 || o.Boot != hostBootID() {
		return false
	}
	start, err := processStart(o.PID)
	return err == nil && start == o.PIDStart
}

func (o Owner) String() string {
	if o.PID == 0 {
		return "an owner this harness did not record"
	}
	return fmt.Sprintf("pid %d", o.PID)
}

// hostBootID changes with every boot of the host: pids before it mean nothing.
func hostBootID() string {
	b, _ := os.ReadFile("/proc/sys/kernel/random/boot_id")
	return strings.TrimSpace(string(b))
}

// processStart is the process's start time in clock ticks since boot
// (field 22 of /proc/PID/stat).
func processStart(pid int) (uint64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may hold spaces: count from its closing parenthesis.
	i := strings.LastIndexByte(string(b), ')')
	f := strings.Fields(string(b)[i+1:])
	if len(f) < 20 {
		return 0, fmt.Errorf("/proc/%d/stat: too few fields", pid)
	}
	return strconv.ParseUint(f[19], 10, 64)
}
