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
	if !c.output || c.cloudInit || c.finished != nil {
		t.Fatalf("after the kernel banner: %+v", c)
	}
	appendLog("[\x1b[0;32m  OK  \x1b[0m] Started cloud-init-local.service\r\n")
	if !c.cloudInit {
		t.Fatal("cloud-init's unit was not noticed")
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
