package vm

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/drivelab/drivelab/framework/config"
)

// DeadlineScale stretches a boot's overall deadlines (CloudInit, SSH) to
// the host it runs on. The intervals are what a guest needs with a host
// core per vCPU on the reference machine; a busier or slower host gets
// proportionally longer. Liveness, not the deadline, is what fails a guest
// that stopped: the deadline only bounds one that keeps going forever.
type DeadlineScale struct {
	Accel config.Accel `json:"accel"`
	// HostCores are the host's online CPUs.
	HostCores int `json:"host_cores"`
	// GuestVCPUs are the vCPUs of all guests booting at once.
	GuestVCPUs int `json:"guest_vcpus"`
	// HostLoad is the host's 1-minute load average before the guests started:
	// other work that takes cores from them.
	HostLoad float64 `json:"host_load"`
	// Slowness is the calibration loop's time here against the reference
	// machine's (1 = as fast; 2 = half as fast), never below 1.
	Slowness float64 `json:"slowness"`
	// Factor = max(1, (HostLoad + GuestVCPUs) / HostCores) x Slowness.
	Factor float64 `json:"factor"`
}

// NewDeadlineScale computes the factor from what was measured.
func NewDeadlineScale(accel config.Accel, hostCores, guestVCPUs int, hostLoad, slowness float64) DeadlineScale {
	s := DeadlineScale{Accel: accel, HostCores: max(1, hostCores), GuestVCPUs: guestVCPUs, HostLoad: hostLoad, Slowness: max(1, slowness)}
	s.Factor = max(1, (s.HostLoad+float64(s.GuestVCPUs))/float64(s.HostCores)) * s.Slowness
	return s
}

// Stretch scales an interval by the factor.
func (s DeadlineScale) Stretch(d time.Duration) time.Duration {
	if s.Factor <= 1 {
		return d
	}
	return time.Duration(float64(d) * s.Factor).Round(time.Second)
}

func (s DeadlineScale) String() string {
	return fmt.Sprintf("deadlines x%.2f (%s: %d guest vCPUs + load %.1f on %d host cores, host %.2fx slower than the reference)",
		s.Factor, s.Accel, s.GuestVCPUs, s.HostLoad, s.HostCores, s.Slowness)
}

// referenceCalibration is how long calibrationLoop takes on the reference
// machine (a 2-core runner of this project's, quiet).
const referenceCalibration = 40 * time.Millisecond

// calibrate times a fixed single-threaded integer loop, best of three, and
// returns its time against the reference: the host's speed for the kind of
// work TCG does (translating and running guest code), taken before the
// guests start so they do not skew it.
func calibrate() float64 {
	best := time.Duration(1<<63 - 1)
	for range 3 {
		t := time.Now()
		calibrationSink = calibrationLoop(1 << 24)
		best = min(best, time.Since(t))
	}
	return float64(best) / float64(referenceCalibration)
}

var calibrationSink uint64

// calibrationLoop is xorshift64: dependent integer work the compiler cannot fold.
func calibrationLoop(n int) uint64 {
	x := uint64(88172645463325252)
	for range n {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
	}
	return x
}

// hostLoad reads the 1-minute load average; 0 if it cannot be read.
func hostLoad() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0
	}
	l, _ := strconv.ParseFloat(f[0], 64)
	return l
}
