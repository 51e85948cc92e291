package vm

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	libvirt "github.com/digitalocean/go-libvirt"

	"github.com/drivelab/drivelab/framework/config"
	"github.com/drivelab/drivelab/framework/lab"
	"github.com/drivelab/drivelab/framework/topology"
)

// goodInput is valid input with every file present; the connection is
// never used by checkInput.
func goodInput(t *testing.T) BootInput {
	t.Helper()
	topo, err := topology.Load("../../fixtures/topology.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	touch := func(name string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	drives := map[string]string{}
	for _, n := range topo.Nodes {
		drives[n.Name] = touch(n.Name + ".iso")
	}
	return BootInput{
		Conn:         &libvirt.Libvirt{},
		RunID:        "r1",
		Topology:     topo,
		Image:        Image{Disk: touch("disk.qcow2"), Kernel: touch("vmlinuz"), Initrd: touch("initrd.img"), Cmdline: "root=/dev/vda"},
		Drives:       drives,
		ArtifactsDir: dir,
		Intervals:    config.DefaultIntervals(config.AccelTCG),
		PoolDir:      filepath.Join(dir, "pool"),
		Dialer:       lab.NamespaceDialer("drivelab"),
	}
}

func TestCheckInputAcceptsGoodInput(t *testing.T) {
	if err := checkInput(goodInput(t), Limits{}); err != nil {
		t.Fatal(err)
	}
}

func TestCheckInputNamesEachProblemAndItsFix(t *testing.T) {
	huge := func(in *BootInput) {
		in.Topology.Nodes[1].MemoryMiB = 1 << 30 // a PiB: more than any host has
	}
	for _, tc := range []struct {
		name   string
		mutate func(*BootInput)
		want   []string
	}{
		{"no connection", func(in *BootInput) { in.Conn = nil }, []string{"vm.Connect"}},
		{"no dialer", func(in *BootInput) { in.Dialer = nil }, []string{"lab.Config.Dialer"}},
		{"bad run id", func(in *BootInput) { in.RunID = "Run 1" }, []string{`run id "Run 1"`}},
		{"no intervals", func(in *BootInput) { in.Intervals = config.Intervals{} }, []string{"config.DefaultIntervals"}},
		{"no artifacts", func(in *BootInput) { in.ArtifactsDir = "" }, []string{"ArtifactsDir"}},
		{"missing base image", func(in *BootInput) { in.Image.Disk = "/nonexistent/disk.qcow2" }, []string{"base image", "/nonexistent/disk.qcow2", "e2e image build"}},
		{"base image is a folder", func(in *BootInput) { in.Image.Disk = os.TempDir() }, []string{"not a regular file"}},
		{"missing initrd", func(in *BootInput) { in.Image.Initrd = "/nonexistent/initrd" }, []string{"initrd", "e2e image build"}},
		{"kernel without cmdline", func(in *BootInput) { in.Image.Cmdline = " " }, []string{"no cmdline"}},
		{"missing drive", func(in *BootInput) { delete(in.Drives, "web02") }, []string{"node web02: config drive", "e2e drives"}},
		{"drive of no node", func(in *BootInput) { in.Drives["web03"] = in.Drives["web01"] }, []string{`"web03"`, "not a node"}},
		{"more memory than the host", huge, []string{"MiB of guest memory", "MemAvailable", "memory_mib", "E2E_MAX_MEMORY_MIB"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := goodInput(t)
			tc.mutate(&in)
			err := checkInput(in, Limits{})
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
	// The memory cap is the documented way out.
	in := goodInput(t)
	huge(&in)
	if err := checkInput(in, Limits{MaxMemoryMiB: 512}); err != nil {
		t.Errorf("capped memory still refused: %v", err)
	}
}

func TestCheckInputReportsEverythingAtOnce(t *testing.T) {
	in := goodInput(t)
	in.Image.Disk = ""
	delete(in.Drives, "test2")
	delete(in.Drives, "haproxy")
	err := checkInput(in, Limits{})
	if err == nil || strings.Count(err.Error(), "\n") < 2 {
		t.Fatalf("want three problems, got %v", err)
	}
}

func TestLimits(t *testing.T) {
	l := Limits{MaxVCPUs: 1, MaxMemoryMiB: 768, VCPUsSet: true}
	if v, m := l.size(topology.Node{VCPUs: 4, MemoryMiB: 4096}); v != 1 || m != 768 {
		t.Errorf("capped size %d/%d, want 1/768", v, m)
	}
	if v, m := l.size(topology.Node{VCPUs: 1, MemoryMiB: 512}); v != 1 || m != 512 {
		t.Errorf("a cap must never raise a size: got %d/%d", v, m)
	}
	if v, m := (Limits{}).size(topology.Node{VCPUs: 4, MemoryMiB: 4096}); v != 4 || m != 4096 {
		t.Errorf("no caps: got %d/%d", v, m)
	}
}

func TestMemAvailable(t *testing.T) {
	mib, err := memAvailableMiB()
	if err != nil || mib <= 0 {
		t.Fatalf("MemAvailable = %d MiB, %v", mib, err)
	}
}

func TestDiskInfo(t *testing.T) {
	dir := t.TempDir()
	raw := filepath.Join(dir, "raw.img")
	os.WriteFile(raw, make([]byte, 4096), 0o644)
	if f, size, err := DiskInfo(raw); err != nil || f != "raw" || size != 4096 {
		t.Errorf("raw: %s %d %v", f, size, err)
	}
	// A qcow2 header: magic, version 3, ..., size (bytes 24-31) 2 GiB.
	hdr := make([]byte, 512)
	copy(hdr, "QFI\xfb\x00\x00\x00\x03")
	hdr[28] = 0x80 // big-endian 0x0000_0000_8000_0000 = 2 GiB
	q := filepath.Join(dir, "disk.qcow2")
	os.WriteFile(q, hdr, 0o644)
	if f, size, err := DiskInfo(q); err != nil || f != "qcow2" || size != 2<<30 {
		t.Errorf("qcow2: %s %d %v", f, size, err)
	}
	if _, _, err := DiskInfo(filepath.Join(dir, "missing")); err == nil {
		t.Error("missing file accepted")
	}
}
