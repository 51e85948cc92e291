package config

import (
	"cmp"
	"errors"
	"fmt"
	"os"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// DefaultLibvirtSocket is libvirtd's system socket.
const DefaultLibvirtSocket = "/var/run/libvirt/libvirt-sock"

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
	// Accel forces the accelerator (E2E_ACCEL); "": detect it.
	Accel Accel
	// Boot forces how nodes start (E2E_BOOT); "": BootFor's default.
	Boot Boot
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

// FromEnv loads the settings from the process's environment.
func FromEnv() (Settings, error) { return Load(os.LookupEnv) }

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
		Accel:         Accel(get("E2E_ACCEL")),
		Boot:          Boot(get("E2E_BOOT")),
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
