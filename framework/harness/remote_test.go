package harness

import (
	"strings"
	"testing"
)

func TestParseHostInfo(t *testing.T) {
	proc := "MemTotal:       24576000 kB\nMemFree:         1000000 kB\nMemAvailable:   20480000 kB\n0.52 1.58 0.59 1/389 12345\n"
	h, err := parseHostInfo(8, []byte(proc))
	if err != nil {
		t.Fatal(err)
	}
	if h.Cores != 8 || h.MemTotalMiB != 24000 || h.MemAvailableMiB != 20000 || h.Load != 0.52 {
		t.Errorf("parseHostInfo = %+v, want 8 cores, 24000 MiB, 20000 MiB available, load 0.52", *h)
	}
	for name, bad := range map[string]string{
		"no meminfo":     "0.52 1.58 0.59 1/389 12345\n",
		"no available":   "MemTotal:       24576000 kB\n",
		"no cores":       proc,
		"words for kibs": "MemTotal: lots kB\nMemAvailable: some kB\n",
	} {
		cores := 8
		if name == "no cores" {
			cores = 0
		}
		if _, err := parseHostInfo(cores, []byte(bad)); err == nil || !strings.Contains(err.Error(), "could not read its cores and memory") {
			t.Errorf("%s: err = %v, want a refusal", name, err)
		}
	}
}
