package vm

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestConsoleFollowsTheLog(t *testing.T) {
	path := filepath.Join(t.TempDir(), "console.log")
	c := &console{path: path}
	if err := c.read(); err != nil || c.output {
		t.Fatalf("missing log: err %v, output %v", err, c.output)
	}
	appendLog := func(s string) {
		t.Helper()
		f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		f.WriteString(s)
		f.Close()
		if err := c.read(); err != nil {
			t.Fatal(err)
		}
	}
	appendLog("[    0.000000] Linux version 6.1.0\r\n")
	if !c.output || c.stage() != StageKernel || c.finished != nil {
		t.Fatalf("after the kernel banner: %+v", c)
	}
	appendLog("[\x1b[0;32m  OK  \x1b[0m] Started cloud-init-local.service\r\n")
	if c.stage() != StageKernel {
		t.Fatal("a systemd status line moved the stage")
	}
	// The finished line arrives in two writes.
	appendLog("[   48.688762] cloud-init[375]: Cloud-init v. 22.4.2 finished at Tue, 24 Nov 2026 15:52:19 +0000. Datasource DataSource")
	if c.finished != nil {
		t.Fatal("half a line was parsed")
	}
	appendLog("ConfigDrive [net,ver=2][source=/dev/sr0].  Up 48.64 seconds\r\n")
	want := Finished{Version: "22.4.2", Datasource: "DataSourceConfigDrive [net,ver=2][source=/dev/sr0]", Uptime: 48640 * time.Millisecond}
	if c.finished == nil || *c.finished != want {
		t.Fatalf("finished = %+v, want %+v", c.finished, want)
	}
	tail := c.Tail()
	if strings.Contains(tail, "\x1b") || !strings.Contains(tail, "    | [  OK  ] Started cloud-init-local.service") {
		t.Errorf("tail:\n%s", tail)
	}
}

func TestConsoleTailKeepsTheLastLines(t *testing.T) {
	path := filepath.Join(t.TempDir(), "console.log")
	var b strings.Builder
	for i := range 100 {
		b.WriteString("line " + strings.Repeat("x", i%3) + string(rune('a'+i%26)) + "\n")
	}
	b.WriteString("Kernel panic - not syncing: VFS: Unable to mount root fs") // no newline yet
	os.WriteFile(path, []byte(b.String()), 0o644)
	c := &console{path: path}
	if err := c.read(); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(c.Tail(), "\n")
	if len(lines) != tailLines+1 || !strings.Contains(lines[len(lines)-1], "Kernel panic") {
		t.Errorf("tail has %d lines ending %q", len(lines), lines[len(lines)-1])
	}
	if (&console{}).Tail() != "    (console is empty)" {
		t.Error("an empty console must say so")
	}
}

func TestParseFinished(t *testing.T) {
	for _, l := range []string{
		"Cloud-init v. 22.4.2 running 'modules:final' at Tue, 24 Nov 2026 15:52:18 +0000. Up 47.90 seconds.",
		"Cloud-init v. 22.4.2 finished at Tue, 24 Nov 2026. Datasource DataSourceNone.  Up seconds",
		"random text",
	} {
		if f := parseFinished(l); f != nil {
			t.Errorf("parseFinished(%q) = %+v, want nil", l, f)
		}
	}
	f := parseFinished("Cloud-init v. 19.4 finished at Thu, 01 Jan 2026 00:00:00 +0000. Datasource DataSourceNone.  Up 301.5 seconds")
	if f == nil || f.Datasource != "DataSourceNone" || f.Uptime != 301500*time.Millisecond {
		t.Errorf("CentOS-style line: %+v", f)
	}
}

func TestConsoleStagesInOrder(t *testing.T) {
	path := filepath.Join(t.TempDir(), "console.log")
	c := &console{path: path}
	lines := []struct {
		line string
		want Stage
	}{
		{"SeaBIOS (version 1.16.2-debian-1.16.2-1)", StageFirmware},
		{"[    0.000000] Linux version 6.1.0-41-cloud-amd64 (debian-kernel@lists.debian.org)", StageKernel},
		{"[    2.412000] Run /init as init process", StageInitrd},
		{"[    9.100000] systemd[1]: systemd 252.39-1~deb12u1 running in system mode (+PAM +AUDIT)", StageSystemd},
		{"Welcome to Debian GNU/Linux 12 (bookworm)!", StageSystemd},
		{"[   40.0] cloud-init[201]: Cloud-init v. 22.4.2 running 'init-local' at Thu, 03 Dec 2026 08:00:00 +0000. Up 39.80 seconds.", StageInitLocal},
		// A later line of an earlier stage never moves the stage back.
		{"[   41.0] Run /init as init process", StageInitLocal},
		{"[   60.0] cloud-init[301]: Cloud-init v. 22.4.2 running 'init' at Thu, 03 Dec 2026 08:00:20 +0000. Up 59.80 seconds.", StageInit},
		{"[   90.0] cloud-init[401]: Cloud-init v. 22.4.2 running 'modules:final' at Thu, 03 Dec 2026 08:00:50 +0000. Up 89.80 seconds.", StageFinal},
	}
	f, _ := os.Create(path)
	defer f.Close()
	for i, l := range lines {
		f.WriteString(l.line + "\r\n")
		if err := c.readAt(time.Unix(int64(i), 0)); err != nil {
			t.Fatal(err)
		}
		if got := c.stage(); got != l.want {
			t.Fatalf("after %q: stage %q, want %q", l.line, got, l.want)
		}
	}
	if len(c.stages) != 6 || c.stages[0].Seen != time.Unix(1, 0) {
		t.Errorf("stages %+v", c.stages)
	}
	if c.fault != nil {
		t.Errorf("a clean boot has a fault: %+v", c.fault)
	}
}

func TestConsoleFaults(t *testing.T) {
	for _, tc := range []struct{ line, kind string }{
		{"[    3.1] Kernel panic - not syncing: VFS: Unable to mount root fs on unknown-block(0,0)", "kernel panic"},
		{"[   12.0] BUG: kernel NULL pointer dereference, address: 0000000000000000", "kernel oops"},
		{"[   12.0] Oops: 0000 [#1] PREEMPT SMP NOPTI", "kernel oops"},
		{"You are in emergency mode. After logging in, type \"journalctl -xb\" to view", "emergency shell"},
		{"Cannot open access to console, the root account is locked.", "emergency shell"},
		{"ALERT!  /dev/vdz does not exist.  Dropping to a shell!", "initramfs shell"},
		{"[DEPEND] Dependency failed for local-fs.target - Local File Systems.", "dependency failed"},
		{"[  80.1] Out of memory: Killed process 412 (python3) total-vm:90000kB", "out of memory"},
		{"Traceback (most recent call last):", "cloud-init traceback"},
		{"2026-12-03 08:01:02,003 - util.py[WARNING]: Failed running /var/lib/cloud/instance/scripts/part-001 [1]", "user_data failed"},
		{"2026-12-03 08:01:02,005 - cc_scripts_user.py[WARNING]: Failed to run module scripts_user (scripts in /var/lib/cloud/instance/scripts)", "user_data failed"},
		{"[   31.2] drivelab-gate[180]: drivelab-gate: failed: random: RNDRESEEDCRNG ioctl", "gate failed"},
		{"2026-12-03 08:01:02,007 - util.py[WARNING]: Running module scripts-user (<module 'cloudinit.config.cc_scripts_user'>) failed", "cloud-init error"},
	} {
		f := faultOf(tc.line)
		if f == nil || f.Kind != tc.kind {
			t.Errorf("%q: fault %+v, want %s", tc.line, f, tc.kind)
		}
	}
	for _, ok := range []string{
		"[  OK  ] Started ssh.service - OpenBSD Secure Shell server.",
		"[   60.0] cloud-init[301]: Cloud-init v. 22.4.2 running 'init' at Thu, 03 Dec 2026. Up 59.80 seconds.",
		"ci-info: +++++++++++++++++++++++Net device info+++++++++++++++++++++++",
		"[    0.5] watchdog: BUG: soft lockup - CPU#0 stuck for 22s! [swapper/0:1]",
		"Cloud-init v. 22.4.2 finished at Thu, 03 Dec 2026 08:02:00 +0000. Datasource DataSourceConfigDrive [net,ver=2][source=/dev/sr0].  Up 120.00 seconds",
	} {
		if f := faultOf(ok); f != nil {
			t.Errorf("%q is not a fault, got %+v", ok, f)
		}
	}
}

// The gate's last line says which boot it opened for; the harness holds
// that against how it started the node.
func TestConsoleReadsTheGatesPath(t *testing.T) {
	for line, want := range map[string]string{
		"[   12.0] drivelab-gate[180]: drivelab-gate: open (cold boot)":                                             "cold",
		"drivelab-gate: open (restored): steps clock random machine-id; clock moved 340s to the RTC, machine-id 0a": "restored",
		"drivelab-gate: waiting for the config drive and eth0":                                                      "",
		"drivelab-gate: failed: clock: no RTC to read":                                                              "",
	} {
		c := &console{}
		c.line(line)
		if c.gatePath != want {
			t.Errorf("%q: gate path %q, want %q", line, c.gatePath, want)
		}
	}
}

// A boot is judged by where cloud-init found its drive and by the gate's
// word on the path, held against the harness's.
func TestCheckFinishedAndGatePath(t *testing.T) {
	cd := Finished{Datasource: "DataSourceConfigDrive [net,ver=2][source=/dev/sr0]"}
	for name, c := range map[string]struct {
		f       Finished
		gate    string
		own     bool
		wantErr string
	}{
		"cd-rom, gate said":      {cd, "restored", true, ""},
		"foreign image, no gate": {cd, "", false, ""},
		"virtio disk":            {Finished{Datasource: "DataSourceConfigDrive [net,ver=2][source=/dev/vdb]"}, "restored", true, "elsewhere than the CD-ROM /dev/sr0"},
		"no datasource":          {Finished{Datasource: "DataSourceNone"}, "cold", true, "without a datasource"},
		"gate silent":            {cd, "", true, "never said which boot"},
	} {
		err := checkFinished(c.f, c.gate, c.own)
		if (err == nil) != (c.wantErr == "") || err != nil && !strings.Contains(err.Error(), c.wantErr) {
			t.Errorf("%s: %v, want %q", name, err, c.wantErr)
		}
	}
	if err := checkGatePath("restored", "restored"); err != nil {
		t.Errorf("same path: %v", err)
	}
	if err := checkGatePath("restored", "cold"); err == nil || !strings.Contains(err.Error(), "opened for a cold boot, but the harness restored the node") {
		t.Errorf("gate saw cold on a restored node: %v", err)
	}
	if err := checkGatePath("cold", "restored"); err == nil || !strings.Contains(err.Error(), "booted cold") {
		t.Errorf("gate saw restored on a cold node: %v", err)
	}
}
