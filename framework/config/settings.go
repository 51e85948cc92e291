package config

import (
	"cmp"
	"errors"
	"fmt"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// DefaultLibvirtSocket is libvirtd's system socket.
const DefaultLibvirtSocket = "/var/run/libvirt/libvirt-sock"

// DefaultQuarantine is the repository's quarantine list.
const DefaultQuarantine = "fixtures/quarantine.yaml"

// MaxRerun bounds E2E_RERUN: a check that needs more tries than this to
// pass is broken, not flaky, and each rerun may take a check budget.
const MaxRerun = 5

// Settings are everything the harness takes from its environment, read once
// at the edge (the CLI, the suites) and passed down: library code reads no
// environment variable of its own.
type Settings struct {
	Paths Paths
	// Limits cap every node's size (E2E_MAX_VCPUS, E2E_MAX_MEMORY_MIB).
	Limits Limits
	// LibvirtSocket is libvirtd's unix socket (E2E_LIBVIRT_SOCKET).
	LibvirtSocket string
	// LabMode is "netns" or "host" (E2E_LAB_MODE); lab.Config checks it.
	LabMode string
	// Hosts are the libvirt hosts runs go to (E2E_HOSTS): a comma-separated
	// list of URIs, qemu:///system (this machine) or
	// qemu+ssh://root@host/system; "" is this machine alone.
	// framework/remote parses it.
	Hosts string
	// SSHConfig is the ssh_config read for the hosts' aliases, ports, users,
	// keys and jumps (E2E_SSH_CONFIG); "" is ~/.ssh/config.
	SSHConfig string
	// Accel forces the accelerator (E2E_ACCEL); "": detect it.
	Accel Accel
	// Boot forces how nodes start (E2E_BOOT); "": BootFor's default.
	Boot Boot
	// Rerun is how many more times a failed check runs on the nodes it
	// failed on, after the first pass over all checks (E2E_RERUN); one that
	// passes so is reported flaky (harness.CheckPolicy).
	Rerun int
	// Quarantine is the quarantine list (E2E_QUARANTINE), relative to the
	// repository root unless absolute (framework/quarantine).
	Quarantine string
	// overrides are the E2E_<INTERVAL> values given; zero fields are not.
	overrides Intervals
}

// Boot is how a run's nodes start.
type Boot string

const (
	// BootCold starts every node from its kernel.
	BootCold Boot = "cold"
	// BootSnapshot restores every node from a memory snapshot of the image
	// taken just before cloud-init, made once per guest shape and cached
	// with the image (framework/vm/snapshot.go).
	BootSnapshot Boot = "snapshot"
)

// BootFor is how nodes start under accel: E2E_BOOT if given, else from a
// snapshot under TCG, where a cold boot's kernel and early userspace cost
// most, and cold under KVM, where they cost seconds.
func (s Settings) BootFor(accel Accel) Boot {
	if s.Boot != "" {
		return s.Boot
	}
	if accel == AccelTCG {
		return BootSnapshot
	}
	return BootCold
}

// Limits cap every node's size on small runners; zero means no cap.
type Limits struct {
	MaxVCPUs     int
	MaxMemoryMiB int
	// VCPUsSet says E2E_MAX_VCPUS was given (0 there: no cap even under TCG).
	VCPUsSet bool
}

// Getenv looks up one variable, as os.LookupEnv does.
type Getenv func(name string) (string, bool)

// FromEnv loads the settings from the process's environment, which must
// name no E2E_ variable the harness does not know (a typo would be ignored).
func FromEnv() (Settings, error) {
	s, err := Load(os.LookupEnv)
	return s, errors.Join(err, Unknown(os.Environ()))
}

// Load reads every setting through getenv and reports every bad value, each
// naming its variable and what it wants.
func Load(getenv Getenv) (Settings, error) {
	get := func(name string) string {
		v, _ := getenv(name)
		return strings.TrimSpace(v)
	}
	s := Settings{
		Paths: Paths{
			Cache:     cmp.Or(get("E2E_CACHE_DIR"), DefaultCacheDir),
			State:     cmp.Or(get("E2E_STATE_DIR"), DefaultStateDir),
			Artifacts: cmp.Or(get("E2E_ARTIFACTS_DIR"), DefaultArtifactsDir),
		},
		LibvirtSocket: cmp.Or(get("E2E_LIBVIRT_SOCKET"), DefaultLibvirtSocket),
		LabMode:       cmp.Or(get("E2E_LAB_MODE"), "netns"),
		Hosts:         get("E2E_HOSTS"),
		SSHConfig:     get("E2E_SSH_CONFIG"),
		Accel:         Accel(get("E2E_ACCEL")),
		Boot:          Boot(get("E2E_BOOT")),
		Quarantine:    cmp.Or(get("E2E_QUARANTINE"), DefaultQuarantine),
	}
	var errs []error
	switch s.Accel {
	case AccelKVM, AccelTCG, "":
	default:
		errs = append(errs, fmt.Errorf("E2E_ACCEL=%q: want %q or %q, or unset to detect", s.Accel, AccelKVM, AccelTCG))
	}
	switch s.Boot {
	case BootCold, BootSnapshot, "":
	default:
		errs = append(errs, fmt.Errorf("E2E_BOOT=%q: want %q or %q, or unset for %q under TCG and %q under KVM", s.Boot, BootCold, BootSnapshot, BootSnapshot, BootCold))
	}
	switch s.LabMode {
	case "netns", "host":
	default:
		errs = append(errs, fmt.Errorf("E2E_LAB_MODE=%q: want %q (a lab of its own in a network namespace) or %q (this host's libvirtd and bridge), or unset for netns", s.LabMode, "netns", "host"))
	}
	for _, p := range []struct{ name, dir string }{{"E2E_CACHE_DIR", s.Paths.Cache}, {"E2E_STATE_DIR", s.Paths.State}, {"E2E_ARTIFACTS_DIR", s.Paths.Artifacts}} {
		if err := folderProblem(p.dir); err != nil {
			errs = append(errs, fmt.Errorf("%s=%q: %v; give a folder (it is created if missing)", p.name, p.dir, err))
		}
	}
	if st, err := os.Stat(s.LibvirtSocket); err == nil && st.Mode()&os.ModeSocket == 0 {
		errs = append(errs, fmt.Errorf("E2E_LIBVIRT_SOCKET=%q is not a socket; give libvirtd's unix socket, or unset it for %s", s.LibvirtSocket, DefaultLibvirtSocket))
	}
	if str := get("E2E_RERUN"); str != "" {
		n, err := strconv.Atoi(str)
		if err != nil || n < 0 || n > MaxRerun {
			errs = append(errs, fmt.Errorf("E2E_RERUN=%q: want how many more times a failed check runs, 0 (none) to %d", str, MaxRerun))
		} else {
			s.Rerun = n
		}
	}
	if err := s.loadLimits(get); err != nil {
		errs = append(errs, err)
	}
	if err := s.loadIntervals(get); err != nil {
		errs = append(errs, err)
	}
	return s, errors.Join(errs...)
}

func (s *Settings) loadLimits(get func(string) string) error {
	var errs []error
	for _, v := range []struct {
		name string
		dst  *int
		min  int
		set  *bool
	}{{"E2E_MAX_VCPUS", &s.Limits.MaxVCPUs, 0, &s.Limits.VCPUsSet}, {"E2E_MAX_MEMORY_MIB", &s.Limits.MaxMemoryMiB, 256, new(bool)}} {
		str := get(v.name)
		if str == "" {
			continue
		}
		n, err := strconv.Atoi(str)
		if err != nil || n < 0 || (n < v.min && n != 0) {
			errs = append(errs, fmt.Errorf("%s=%q: want 0 (no cap) or a whole number of at least %d", v.name, str, max(1, v.min)))
			continue
		}
		*v.dst, *v.set = n, true
	}
	return errors.Join(errs...)
}

func (s *Settings) loadIntervals(get func(string) string) error {
	var errs []error
	v := reflect.ValueOf(&s.overrides).Elem()
	for i := range v.NumField() {
		name := "E2E_" + v.Type().Field(i).Tag.Get("env")
		str := get(name)
		if str == "" {
			continue
		}
		d, err := time.ParseDuration(str)
		if err != nil || d <= 0 {
			errs = append(errs, fmt.Errorf("%s=%q: want a positive Go duration such as 90s or 10m", name, str))
			continue
		}
		v.Field(i).SetInt(int64(d))
	}
	return errors.Join(errs...)
}

// Intervals are the defaults for accel with the E2E_<NAME> overrides applied.
func (s Settings) Intervals(accel Accel) Intervals {
	iv := DefaultIntervals(accel)
	dst, src := reflect.ValueOf(&iv).Elem(), reflect.ValueOf(s.overrides)
	for i := range dst.NumField() {
		if d := src.Field(i).Int(); d != 0 {
			dst.Field(i).SetInt(d)
		}
	}
	return iv
}

// folderProblem says why dir cannot be a folder of the harness's: it is a
// file, or inside one. A folder that does not exist yet is fine.
func folderProblem(dir string) error {
	st, err := os.Stat(dir)
	switch {
	case err == nil && !st.IsDir():
		return errors.New("it is a file, not a folder")
	case errors.Is(err, syscall.ENOTDIR):
		return errors.New("a part of the path is a file, not a folder")
	case err != nil && !errors.Is(err, os.ErrNotExist):
		return err
	}
	return nil
}

// otherVariables are E2E_ variables that are not settings of the harness
// but belong to the Makefile (E2E_LABELS, E2E_ARGS, E2E_TOPOLOGY, passed
// into the environment by `make e2e E2E_LABELS=...`) and to the VM tests.
var otherVariables = []string{"E2E_LABELS", "E2E_ARGS", "E2E_TOPOLOGY", "E2E_IMAGE_BOOT", "E2E_VM_LOCK", "E2E_LAB"}

// Variables are the E2E_ settings Load reads.
func Variables() []string {
	names := []string{"E2E_CACHE_DIR", "E2E_STATE_DIR", "E2E_ARTIFACTS_DIR", "E2E_LIBVIRT_SOCKET", "E2E_LAB_MODE", "E2E_HOSTS", "E2E_SSH_CONFIG",
		"E2E_ACCEL", "E2E_BOOT", "E2E_MAX_VCPUS", "E2E_MAX_MEMORY_MIB", "E2E_RERUN", "E2E_QUARANTINE"}
	t := reflect.TypeOf(Intervals{})
	for i := range t.NumField() {
		names = append(names, "E2E_"+t.Field(i).Tag.Get("env"))
	}
	return names
}

// Unknown refuses E2E_ variables of environ ("NAME=value" entries) that
// nothing reads: E2E_CLOUDINIT=20m would otherwise change nothing, silently.
func Unknown(environ []string) error {
	known := append(Variables(), otherVariables...)
	var errs []error
	for _, e := range environ {
		name, _, _ := strings.Cut(e, "=")
		if !strings.HasPrefix(name, "E2E_") || slices.Contains(known, name) {
			continue
		}
		hint := "the settings are " + strings.Join(Variables(), ", ")
		squash := func(s string) string { return strings.ReplaceAll(s, "_", "") }
		for _, k := range known {
			if squash(k) == squash(name) || strings.EqualFold(k, name) {
				hint = "did you mean " + k + "?"
			}
		}
		errs = append(errs, fmt.Errorf("%s is set, but no E2E_ setting has that name (%s); unset it", name, hint))
	}
	return errors.Join(errs...)
}
