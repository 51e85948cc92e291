package lint

import (
	"strings"
	"testing"
)

func TestShellOf(t *testing.T) {
	for first, want := range map[string]string{
		"#!/bin/bash":                  "bash",
		"#!/usr/bin/bash":              "bash",
		"#!/bin/bash -e":               "bash",
		"#! /bin/bash -eu":             "bash",
		"#!/usr/bin/env bash":          "bash",
		"#!/usr/bin/env -S bash -eu":   "bash",
		"#!/usr/bin/env LC_ALL=C bash": "bash",
		"#!/bin/sh":                    "dash",
		"#!/bin/sh -e":                 "dash",
		"#!/usr/bin/env sh":            "dash",
		"#!/bin/dash":                  "dash",
		"#!/usr/bin/python3":           "",
		"#!/usr/bin/env python3":       "",
		"#cloud-config":                "",
		"bash":                         "",
	} {
		if got := shellOf(first); got != want {
			t.Errorf("shellOf(%q) = %q, want %q", first, got, want)
		}
	}
}

func TestCRLine(t *testing.T) {
	for text, want := range map[string]int{"#!/bin/bash\r\necho": 1, "#!/bin/sh\necho a\r\n": 2, "#!/bin/sh\necho\n": 0, "a\rb": 1} {
		if got := crLine(text); got != want {
			t.Errorf("crLine(%q) = %d, want %d", text, got, want)
		}
	}
}

func TestDeviceLines(t *testing.T) {
	text := strings.Join([]string{
		"mount /dev/vdb /mnt",                         // 1: the restored lab's hot-plugged drive
		"mount /dev/sr0 /mnt",                         // the CD-ROM: what a cloud gives
		"mount /dev/disk/by-label/config-2 /mnt",      // by label: right everywhere
		"blkid /dev/sdb1",                             // 4
		"ls /dev/disk/by-path/pci-0000:00:05.0",       // 5
		"mkfs.ext4 /dev/vdc # drivelab: allow-device", // deliberate
		"mount /dev/vda1 /",                           // the root disk, not the drive
	}, "\n")
	lines, devs := deviceLines(text)
	if strings.Join(devs, " ") != "/dev/vdb /dev/sdb1 /dev/disk/by-path/pci-0000:00:05.0" || len(lines) != 3 || lines[0] != 1 || lines[1] != 4 || lines[2] != 5 {
		t.Errorf("deviceLines = %v %v", lines, devs)
	}
}

// cloud-init's chpasswd takes users' passwords as hashes unless the entry
// says type: text, and a list value shaped like $6$salt$hash as a hash.
func TestCloudConfigPasswords(t *testing.T) {
	for _, c := range []struct {
		cc     string
		value  string
		hashed bool
		random bool
	}{
		{"chpasswd: {users: [{name: root, password: pw, type: text}]}", "pw", false, false},
		{"chpasswd: {users: [{name: root, password: $6$s$h}]}", "$6$s$h", true, false},
		{"chpasswd: {users: [{name: root, password: $6$s$h, type: hash}]}", "$6$s$h", true, false},
		{"chpasswd: {users: [{name: root, type: RANDOM}]}", "", false, true},
		{"chpasswd: {list: [root:pw]}", "pw", false, false},
		{"chpasswd: {list: \"root:$6$s$h\\n\"}", "$6$s$h", true, false},
		{"chpasswd: {list: [root:R]}", "R", false, true},
		{"users: [{name: root, hashed_passwd: $6$s$h}]", "$6$s$h", true, false},
		{"users: [{name: root, plain_text_passwd: pw}]", "pw", false, false},
	} {
		got := cloudConfigPasswords([]byte("#cloud-config\n" + c.cc + "\n"))
		if len(got) != 1 || got[0].value != c.value || got[0].hashed != c.hashed || got[0].random != c.random {
			t.Errorf("%s: %+v", c.cc, got)
		}
	}
}

func TestScriptPasswords(t *testing.T) {
	got := scriptPasswords("#!/bin/bash\necho 'root:$6$s$h' | chpasswd -e\necho root:pw | chpasswd\necho 'root:$6$s$h' | chpasswd --encrypted\n")
	if len(got) != 3 || !got[0].hashed || got[0].value != "$6$s$h" || got[0].line != 2 || got[1].hashed || got[1].value != "pw" || !got[2].hashed {
		t.Errorf("scriptPasswords = %+v", got)
	}
}

// FuzzUserDataScan: the Go side of the user_data checks (the shell a
// shebang names, CR lines, device names, the passwords a script or a
// cloud-config sets) takes any input without panicking, and says only
// what the input holds.
func FuzzUserDataScan(f *testing.F) {
	f.Add("#!/bin/bash -e\r\necho 'root:$6$s$h' | chpasswd -e\nmount /dev/vdb /mnt\n")
	f.Add("#!/usr/bin/env -S bash\nmount /dev/disk/by-path/x /mnt # drivelab: allow-device\n")
	f.Add("#cloud-config\nchpasswd: {users: [{name: root, password: x}], list: [root:R]}\nusers: [{name: root, passwd: y}]\n")
	f.Add("#cloud-boothook\r\n#!/bin/sh\n")
	f.Fuzz(func(t *testing.T, text string) {
		first, _, _ := strings.Cut(text, "\n")
		if shellOf(first) != "" && !strings.HasPrefix(first, "#!") {
			t.Errorf("shellOf(%q) names a shell for a line that is no shebang", first)
		}
		lines := strings.Split(text, "\n")
		if n := crLine(text); (n > 0) != strings.Contains(text, "\r") || n > 0 && !strings.Contains(lines[n-1], "\r") {
			t.Errorf("crLine = %d for %q", n, text)
		}
		dl, devs := deviceLines(text)
		for i, n := range dl {
			if !strings.Contains(lines[n-1], devs[i]) || strings.Contains(lines[n-1], AllowDevice) {
				t.Errorf("deviceLines: line %d %q, device %q", n, lines[n-1], devs[i])
			}
		}
		for _, p := range scriptPasswords(text) {
			if p.line < 1 || p.line > len(lines) || !strings.Contains(lines[p.line-1], "echo") {
				t.Errorf("scriptPasswords: line %d of %q", p.line, text)
			}
		}
		for _, p := range cloudConfigPasswords([]byte(text)) {
			if p.hashed && p.value != "" && !strings.Contains(text, p.value) {
				t.Errorf("cloudConfigPasswords: hash %q is not in %q", p.value, text)
			}
		}
		if part, ok := wholePart([]byte(text)); ok && strings.HasPrefix(text, "#!") != (part.Type == "text/x-shellscript") {
			t.Errorf("wholePart types %q as %s", first, part.Type)
		}
	})
}
