package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// env is a fake environment for Load.
func env(vars map[string]string) Getenv {
	return func(name string) (string, bool) {
		v, ok := vars[name]
		return v, ok
	}
}

func TestLoadDefaults(t *testing.T) {
	s, err := Load(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	want := Settings{
		Paths:         Paths{Cache: DefaultCacheDir, State: DefaultStateDir, Artifacts: DefaultArtifactsDir},
		LibvirtSocket: DefaultLibvirtSocket, LabMode: "netns", Quarantine: DefaultQuarantine,
	}
	if s != want {
		t.Errorf("defaults: got %+v, want %+v", s, want)
	}
	if s.Intervals(AccelKVM) != DefaultIntervals(AccelKVM) || s.Intervals(AccelTCG) != DefaultIntervals(AccelTCG) {
		t.Error("with no overrides, Intervals must be the accelerator's defaults")
	}
}

func TestLoadParsesEveryVariable(t *testing.T) {
	s, err := Load(env(map[string]string{
		"E2E_CACHE_DIR": "/c", "E2E_STATE_DIR": "/s", "E2E_ARTIFACTS_DIR": "a",
		"E2E_LIBVIRT_SOCKET": "/sock", "E2E_LAB_MODE": "host", "E2E_ACCEL": "kvm", "E2E_BOOT": "cold",
		"E2E_MAX_VCPUS": "0", "E2E_MAX_MEMORY_MIB": " 768 ",
		"E2E_STALL": "1s", "E2E_CLOUD_INIT": "2s", "E2E_SSH": "3s", "E2E_COMMAND": "4s",
		"E2E_FAILOVER": "5s", "E2E_TEARDOWN": "6s", "E2E_POLL": "7ms", "E2E_ADMISSION": "8s",
		"E2E_RERUN": "2", "E2E_QUARANTINE": "/q.yaml",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if s.Paths != (Paths{Cache: "/c", State: "/s", Artifacts: "a"}) || s.Paths.PoolDir() != "/s/pool" {
		t.Errorf("paths: %+v", s.Paths)
	}
	if s.LibvirtSocket != "/sock" || s.LabMode != "host" || s.Accel != AccelKVM || s.Boot != BootCold {
		t.Errorf("socket, mode, accel, boot: %q %q %q %q", s.LibvirtSocket, s.LabMode, s.Accel, s.Boot)
	}
	if s.Rerun != 2 || s.Quarantine != "/q.yaml" {
		t.Errorf("rerun, quarantine: %d %q", s.Rerun, s.Quarantine)
	}
	if s.Limits != (Limits{MaxVCPUs: 0, MaxMemoryMiB: 768, VCPUsSet: true}) {
		t.Errorf("limits: %+v", s.Limits)
	}
	want := Intervals{Stall: time.Second, CloudInit: 2 * time.Second, SSH: 3 * time.Second, Command: 4 * time.Second,
		Failover: 5 * time.Second, Teardown: 6 * time.Second, Poll: 7 * time.Millisecond, Admission: 8 * time.Second}
	for _, a := range []Accel{AccelKVM, AccelTCG} {
		if got := s.Intervals(a); got != want {
			t.Errorf("intervals under %s: got %+v, want %+v", a, got, want)
		}
	}
}

// One override leaves the other intervals at the accelerator's defaults.
func TestIntervalsOverrideOnlyWhatIsGiven(t *testing.T) {
	s, err := Load(env(map[string]string{"E2E_CLOUD_INIT": "15m"}))
	if err != nil {
		t.Fatal(err)
	}
	want := DefaultIntervals(AccelKVM)
	want.CloudInit = 15 * time.Minute
	if got := s.Intervals(AccelKVM); got != want {
		t.Errorf("got %+v, want %+v", got, want)
	}
}

func TestLoadRefusesBadValues(t *testing.T) {
	for name, bad := range map[string][]string{
		"E2E_ACCEL":          {"xen", "KVM"},
		"E2E_BOOT":           {"warm", "Snapshot"},
		"E2E_MAX_VCPUS":      {"-1", "two", "1.5"},
		"E2E_MAX_MEMORY_MIB": {"100", "-5", "lots"},
		"E2E_CLOUD_INIT":     {"10", "-1m", "0s", "soon"},
		"E2E_POLL":           {"0"},
		"E2E_RERUN":          {"-1", "once", "6"},
	} {
		for _, v := range bad {
			_, err := Load(env(map[string]string{name: v}))
			if err == nil || !strings.Contains(err.Error(), name+"=") {
				t.Errorf("%s=%q: want an error naming %s, got %v", name, v, name, err)
			}
		}
	}
}

// Every bad value is reported at once, not only the first.
func TestLoadReportsEveryBadValue(t *testing.T) {
	_, err := Load(env(map[string]string{"E2E_ACCEL": "xen", "E2E_MAX_VCPUS": "x", "E2E_SSH": "y"}))
	for _, name := range []string{"E2E_ACCEL", "E2E_MAX_VCPUS", "E2E_SSH"} {
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("error lacks %s: %v", name, err)
		}
	}
}

// Nodes restore from a snapshot under TCG and boot cold under KVM unless
// E2E_BOOT says otherwise: a cold boot is one variable away.
func TestBootFor(t *testing.T) {
	for _, c := range []struct {
		boot  Boot
		accel Accel
		want  Boot
	}{
		{"", AccelTCG, BootSnapshot}, {"", AccelKVM, BootCold},
		{BootCold, AccelTCG, BootCold}, {BootSnapshot, AccelKVM, BootSnapshot},
	} {
		if got := (Settings{Boot: c.boot}).BootFor(c.accel); got != c.want {
			t.Errorf("E2E_BOOT=%q under %s: %q, want %q", c.boot, c.accel, got, c.want)
		}
	}
}

func TestChecksAtOnce(t *testing.T) {
	for _, c := range []struct {
		accel       Accel
		cores, want int
	}{{AccelKVM, 2, 0}, {AccelTCG, 2, 2}, {AccelTCG, 8, 8}, {AccelTCG, 0, 1}} {
		if got := ChecksAtOnce(c.accel, c.cores); got != c.want {
			t.Errorf("ChecksAtOnce(%s, %d) = %d, want %d", c.accel, c.cores, got, c.want)
		}
	}
}

// A lab mode that is neither netns nor host, and a path setting that is a
// file or inside one, are each refused naming the variable.
func TestLoadRefusesBadModesAndPaths(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "state")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ name, value, want string }{
		{"E2E_LAB_MODE", "bogus", `E2E_LAB_MODE="bogus": want "netns"`},
		{"E2E_LAB_MODE", "Host", `E2E_LAB_MODE="Host"`},
		{"E2E_STATE_DIR", file, "E2E_STATE_DIR=\"" + file + "\": it is a file, not a folder"},
		{"E2E_CACHE_DIR", filepath.Join(file, "cache"), "E2E_CACHE_DIR=\"" + file + "/cache\": a part of the path is a file"},
		{"E2E_ARTIFACTS_DIR", file, "E2E_ARTIFACTS_DIR="},
		{"E2E_LIBVIRT_SOCKET", file, "E2E_LIBVIRT_SOCKET=\"" + file + "\" is not a socket"},
	} {
		_, err := Load(env(map[string]string{c.name: c.value}))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s=%s: want %q, got %v", c.name, c.value, c.want, err)
		}
	}
	if _, err := Load(env(map[string]string{"E2E_STATE_DIR": filepath.Join(dir, "new"), "E2E_LAB_MODE": "host"})); err != nil {
		t.Errorf("a folder yet to be made, host mode: %v", err)
	}
}

// An E2E_ variable nothing reads is refused, with the setting it looks like.
func TestUnknownVariables(t *testing.T) {
	if err := Unknown([]string{"HOME=/root", "E2E_LABELS=vm", "E2E_CLOUD_INIT=1m", "E2E_ARGS=-x"}); err != nil {
		t.Errorf("known variables refused: %v", err)
	}
	err := Unknown([]string{"E2E_CLOUDINIT=20m", "E2E_lab_mode=host", "E2E_WHATEVER=1"})
	for _, want := range []string{"E2E_CLOUDINIT is set, but no E2E_ setting has that name (did you mean E2E_CLOUD_INIT?)", "E2E_lab_mode is set, but no E2E_ setting has that name (did you mean E2E_LAB_MODE?)", "E2E_WHATEVER is set, but no E2E_ setting has that name (the settings are E2E_CACHE_DIR"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("want %q, got %v", want, err)
		}
	}
}
