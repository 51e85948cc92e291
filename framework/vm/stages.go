package vm

import (
	"regexp"
	"slices"
	"time"
)

// Stage is how far a guest's boot has got, as its console shows it.
type Stage string

// The stages in boot order. The harness adds StageSSH (cloud-init
// finished, waiting for port 22) and StageReady itself.
const (
	StageFirmware  Stage = "firmware"              // domain started: SeaBIOS, option ROMs
	StageKernel    Stage = "kernel"                // "Linux version"
	StageInitrd    Stage = "initrd"                // the kernel ran the initramfs's /init
	StageSystemd   Stage = "systemd"               // systemd started as PID 1
	StageRestore   Stage = "restore"               // restored from a memory snapshot (no console before)
	StageInitLocal Stage = "cloud-init:init-local" // cloud-init's first stage: the drive is read
	StageInit      Stage = "cloud-init:init"       // network up, hostname, host keys
	StageFinal     Stage = "cloud-init:final"      // user_data's script runs here
	StageSSH       Stage = "ssh"                   // cloud-init finished; waiting for port 22
	StageReady     Stage = "ready"
)

// stageOrder is every stage in order; the console moves only forward.
var stageOrder = []Stage{StageFirmware, StageKernel, StageInitrd, StageSystemd, StageRestore, StageInitLocal, StageInit, StageFinal, StageSSH, StageReady}

// stageLines are the console lines that open a stage.
var stageLines = []struct {
	stage Stage
	re    *regexp.Regexp
}{
	{StageKernel, regexp.MustCompile(`Linux version \d`)},
	{StageInitrd, regexp.MustCompile(`Run /init as init process`)},
	{StageSystemd, regexp.MustCompile(`systemd \d+(\.\d+)?\S* running in system mode|Welcome to .*!`)},
	{StageInitLocal, regexp.MustCompile(`Cloud-init v\. \S+ running 'init-local'`)},
	{StageInit, regexp.MustCompile(`Cloud-init v\. \S+ running 'init'`)},
	{StageFinal, regexp.MustCompile(`Cloud-init v\. \S+ running 'modules:final'`)},
}

// StageTime is when a stage was first seen.
type StageTime struct {
	Stage Stage
	Seen  time.Time
}

// stageOf returns the stage a console line opens, if it is later than current.
func stageOf(line string, current Stage) (Stage, bool) {
	cur := slices.Index(stageOrder, current)
	for _, s := range stageLines {
		if slices.Index(stageOrder, s.stage) > cur && s.re.MatchString(line) {
			return s.stage, true
		}
	}
	return "", false
}

// stage is the latest stage the console has shown.
func (c *console) stage() Stage {
	if len(c.stages) == 0 {
		return StageFirmware
	}
	return c.stages[len(c.stages)-1].Stage
}

// Fault is a console line that shows the guest has failed, whatever the
// boot would do next: the boot ends within a poll of it, as CoreOS kola's
// console checks end a test.
type Fault struct {
	Kind string
	Line string
}

// guestFaults are the console lines that end a boot at once. The kernel's
// soft-lockup and RCU-stall watchdogs are not among them: under emulation
// on a busy host they measure the host, not the guest (the image turns
// them off on the kernel command line).
var guestFaults = []struct {
	kind string
	re   *regexp.Regexp
}{
	{"kernel panic", regexp.MustCompile(`Kernel panic - not syncing`)},
	{"gate failed", regexp.MustCompile(`drivelab-gate: failed: `)},
	{"kernel oops", regexp.MustCompile(`\bOops: |\bBUG: (unable to handle|kernel NULL pointer|scheduling while atomic)|general protection fault`)},
	{"emergency shell", regexp.MustCompile(`You are in (emergency|rescue) mode|Entering (emergency|rescue) mode|Give root password for maintenance|Cannot open access to console, the root account is locked`)},
	{"initramfs shell", regexp.MustCompile(`Dropping to a shell|ALERT! .* does not exist`)},
	{"dependency failed", regexp.MustCompile(`Dependency failed for `)},
	{"out of memory", regexp.MustCompile(`Out of memory: Killed process|invoked oom-killer`)},
	{"cloud-init traceback", regexp.MustCompile(`Traceback \(most recent call last\)`)},
	{"user_data failed", regexp.MustCompile(`Failed running /var/lib/cloud/instance/scripts/|Failed to run module scripts[-_]user`)},
	{"cloud-init error", regexp.MustCompile(`\[(ERROR|CRITICAL)\]|\[WARNING\]: (Failed|Running module \S+ .* failed)`)},
}

func faultOf(line string) *Fault {
	for _, f := range guestFaults {
		if f.re.MatchString(line) {
			return &Fault{Kind: f.kind, Line: line}
		}
	}
	return nil
}
