package platform

import (
	"testing"
	"time"
)

func TestBootReportPathAndSlowest(t *testing.T) {
	r := BootReport{Nodes: []NodeReport{
		{Name: "a", Path: "restored", GuestUptime: 3 * time.Second, CloudInit: 9 * time.Second},
		{Name: "b", Path: "restored", GuestUptime: 7 * time.Second, CloudInit: 8 * time.Second},
	}}
	if got := r.Path(); got != "restored" {
		t.Errorf("Path = %q, want restored", got)
	}
	// By the guest's own clock: a restored guest's host-side time includes the restore.
	if got := r.Slowest().Name; got != "b" {
		t.Errorf("Slowest = %s, want b (longest guest uptime)", got)
	}
	r.Nodes[0].Path = "cold"
	if got := r.Path(); got != "mixed" {
		t.Errorf("Path = %q, want mixed", got)
	}
	if got := (BootReport{}).Path(); got != "" {
		t.Errorf("empty report's path %q", got)
	}
}
