package harness

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/drivelab/drivelab/framework/config"
	"github.com/drivelab/drivelab/framework/topology"
)

// Open refuses what it can before it contacts libvirtd: no topology, a
// guest image that is not there.
func TestOpenRefusesBeforeConnecting(t *testing.T) {
	s, err := config.Load(func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	s.LibvirtSocket = filepath.Join(t.TempDir(), "no-libvirtd")
	topo, err := topology.Load("../../fixtures/topology.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		in   OpenInput
		want string
	}{
		{"no topology", OpenInput{Settings: s}, "Run.Topology is nil"},
		{"no image", OpenInput{Settings: s, Run: UpInput{Topology: topo}, Guest: &GuestInput{UserImage: filepath.Join(t.TempDir(), "missing.qcow2"), PackageDir: t.TempDir()}}, "missing.qcow2"},
		{"no libvirtd", OpenInput{Settings: s, Run: UpInput{Topology: topo}}, "no-libvirtd"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			up, err := Open(context.Background(), tc.in)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				up.Close()
				t.Fatalf("got %v, want an error naming %q", err, tc.want)
			}
		})
	}
}
