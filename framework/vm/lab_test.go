package vm

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	libvirt "github.com/digitalocean/go-libvirt"

	"github.com/drivelab/drivelab/framework/config"
	"github.com/drivelab/drivelab/framework/lab"
	"github.com/drivelab/drivelab/framework/testenv"
	"github.com/drivelab/drivelab/framework/topology"
)

// These tests drive the real libvirtd of the lab. They boot guests with a
// blank disk (SeaBIOS finds nothing to boot, which costs little CPU), so
// they exercise definition, start, timeouts, cancellation and teardown
// without a guest image. Run them with the lab up:
//
//	e2e lab up && E2E_LAB=1 flock /tmp/drivelab-vm.lock go test ./framework/vm/
func labConn(t *testing.T) *libvirt.Libvirt {
	t.Helper()
	if os.Getenv("E2E_LAB") != "1" {
		testenv.Skip(t, "needs the lab: run `e2e lab up` as root and set E2E_LAB=1")
	}
	ctx := context.Background()
	conn, err := Connect(ctx, labEnv(t).LibvirtSocket)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Disconnect() })
	return conn
}

// labEnv is the test process's settings (E2E_LIBVIRT_SOCKET, E2E_STATE_DIR).
func labEnv(t *testing.T) config.Settings {
	t.Helper()
	env, err := config.FromEnv()
	if err != nil {
		t.Fatal(err)
	}
	return env
}

// labInput is a run of the fixture topology, shrunk to 256 MiB and one
// vCPU per node, booting a blank disk.
func labInput(t *testing.T, conn Libvirt) (BootInput, *bytes.Buffer) {
	t.Helper()
	topo, err := topology.Load("../../fixtures/topology.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for i := range topo.Nodes {
		topo.Nodes[i].VCPUs, topo.Nodes[i].MemoryMiB = 1, 256
	}
	dir := t.TempDir()
	disk := filepath.Join(dir, "blank.qcow2")
	if out, err := exec.Command("qemu-img", "create", "-q", "-f", "qcow2", disk, "64M").CombinedOutput(); err != nil {
		t.Fatalf("qemu-img: %v: %s", err, out)
	}
	drives := map[string]string{}
	for _, n := range topo.Nodes {
		drives[n.Name] = filepath.Join(dir, n.Name+".iso")
		if err := os.WriteFile(drives[n.Name], make([]byte, 64<<10), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	iv := config.DefaultIntervals(config.AccelTCG)
	iv.Poll = 100 * time.Millisecond
	var progress bytes.Buffer
	return BootInput{
		Conn:         conn,
		RunID:        fmt.Sprintf("t%d-%d", os.Getpid(), runs.Add(1)),
		Topology:     topo,
		Image:        Image{Disk: disk},
		Drives:       drives,
		ArtifactsDir: filepath.Join(dir, "artifacts"),
		Intervals:    iv,
		PoolDir:      labEnv(t).Paths.PoolDir(),
		Dialer:       lab.NamespaceDialer("drivelab"),
		Progress:     &syncWriter{w: &progress},
	}, &progress
}

var runs atomic.Int32

type syncWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

// leftovers lists what of a run exists in libvirt: domains by metadata or
// by name, and volumes by name.
func leftovers(t *testing.T, conn Libvirt, run string) []string {
	t.Helper()
	var left []string
	doms, _, err := conn.ConnectListAllDomains(1, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range doms {
		o, _ := domainOwner(conn, d)
		if o.Run == run || strings.HasPrefix(d.Name, Prefix+run+"-") {
			left = append(left, "domain "+d.Name)
		}
	}
	if pool, err := conn.StoragePoolLookupByName(PoolName); err == nil {
		conn.StoragePoolRefresh(pool, 0)
		vols, _, err := conn.StoragePoolListAllVolumes(pool, 1, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range vols {
			if strings.HasPrefix(v.Name, Prefix+run+"-") {
				left = append(left, "volume "+v.Name)
			}
		}
	}
	return left
}

func expectNothingLeft(t *testing.T, conn Libvirt, run string) {
	t.Helper()
	if left := leftovers(t, conn, run); len(left) > 0 {
		t.Errorf("run %s left %s", run, strings.Join(left, ", "))
	}
}

func TestLabBootTimesOutAndLeavesNothing(t *testing.T) {
	conn := labConn(t)
	in, progress := labInput(t, conn)
	in.Intervals.Stall = 5 * time.Second
	in.Heartbeat = 2 * time.Second
	run, err := BootAll(context.Background(), in)
	if err == nil {
		run.Teardown(context.Background())
		t.Fatal("a blank disk became ready")
	}
	t.Logf("error: %v\nprogress:\n%s", err, progress)
	for _, want := range []string{"(domain " + Prefix + in.RunID + "-", "stuck: no progress for 5s (Stall)", "got as far as firmware", ".console.log"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not say %q", want)
		}
	}
	for _, n := range in.Topology.Nodes {
		for _, state := range []string{"defined", string(StageFirmware)} {
			if !strings.Contains(progress.String(), fmt.Sprintf("%-10s %-21s", n.Name, state)) {
				t.Errorf("progress has no %q line for %s", state, n.Name)
			}
		}
	}
	if !strings.Contains(progress.String(), "waiting: test2 firmware, haproxy firmware, web01 firmware, web02 firmware") {
		t.Error("no heartbeat with every node's state")
	}
	expectNothingLeft(t, conn, in.RunID)
}

func TestLabCancelDuringBootLeavesNothing(t *testing.T) {
	conn := labConn(t)
	in, progress := labInput(t, conn)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// Cancel as Ctrl-C would, once every domain runs.
	go func() {
		tick := time.NewTicker(in.Intervals.Poll)
		defer tick.Stop()
		for range tick.C {
			in.Progress.(*syncWriter).mu.Lock()
			booting := 0
			for _, n := range in.Topology.Nodes {
				if strings.Contains(progress.String(), fmt.Sprintf("%-10s %-21s", n.Name, StageFirmware)) {
					booting++
				}
			}
			in.Progress.(*syncWriter).mu.Unlock()
			if booting == len(in.Topology.Nodes) {
				cancel()
				return
			}
		}
	}()
	run, err := BootAll(ctx, in)
	if err == nil {
		run.Teardown(context.Background())
		t.Fatal("boot succeeded")
	}
	if !strings.Contains(err.Error(), "interrupted") {
		t.Errorf("error %q does not say the boot was interrupted", err)
	}
	expectNothingLeft(t, conn, in.RunID)
}

func TestLabPreflightCreatesNothing(t *testing.T) {
	conn := labConn(t)
	ctx := context.Background()

	t.Run("missing bridge", func(t *testing.T) {
		in, _ := labInput(t, conn)
		in.Topology.Network.Bridge = "brmissing0"
		_, err := BootAll(ctx, in)
		if err == nil || !strings.Contains(err.Error(), "bridge brmissing0 does not exist in netns drivelab") {
			t.Fatalf("got %v", err)
		}
		expectNothingLeft(t, conn, in.RunID)
	})

	t.Run("name taken by a foreign domain", func(t *testing.T) {
		in, _ := labInput(t, conn)
		name := DomainName(in.RunID, "web01")
		x, _ := New(WithName(name)).Marshal() // no harness metadata
		dom, err := conn.DomainDefineXML(x)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.DomainUndefineFlags(dom, 0)
		_, err = BootAll(ctx, in)
		if err == nil || !strings.Contains(err.Error(), "domain "+name+" exists and is not the harness's") {
			t.Fatalf("got %v", err)
		}
		if _, err := conn.DomainLookupByName(name); err != nil {
			t.Errorf("the foreign domain was touched: %v", err)
		}
		if left := leftovers(t, conn, in.RunID); !slices.Equal(left, []string{"domain " + name}) {
			t.Errorf("left %v, want only the foreign domain", left)
		}
	})

	t.Run("name left by an earlier run", func(t *testing.T) {
		in, _ := labInput(t, conn)
		name := DomainName(in.RunID, "web02")
		x, _ := New(WithName(name), WithMetadata("earlier", "web02")).Marshal()
		dom, err := conn.DomainDefineXML(x)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.DomainUndefineFlags(dom, 0)
		_, err = BootAll(ctx, in)
		if err == nil || !strings.Contains(err.Error(), "left from run earlier") || !strings.Contains(err.Error(), "e2e down") {
			t.Fatalf("got %v", err)
		}
	})

	t.Run("volume left in the pool", func(t *testing.T) {
		in, _ := labInput(t, conn)
		pool, err := EnsurePool(conn, labEnv(t).Paths.PoolDir())
		if err != nil {
			t.Fatal(err)
		}
		vol := diskVolume(in.RunID, "test2")
		if _, err := overlayOf(conn, pool, vol, in.Image.Disk); err != nil {
			t.Fatal(err)
		}
		defer deleteVolume(conn, pool, vol)
		_, err = BootAll(ctx, in)
		if err == nil || !strings.Contains(err.Error(), "volume "+vol+" already exists") {
			t.Fatalf("got %v", err)
		}
		if left := leftovers(t, conn, in.RunID); !slices.Equal(left, []string{"volume " + vol}) {
			t.Errorf("left %v, want only the stray volume", left)
		}
	})
}

// remove, which DownAll and Teardown share, takes only domains that carry
// the harness's metadata, running or not, and the volumes it is told to.
func TestLabRemoveTakesOnlyTheHarnesss(t *testing.T) {
	conn := labConn(t)
	in, _ := labInput(t, conn)
	pool, err := EnsurePool(conn, labEnv(t).Paths.PoolDir())
	if err != nil {
		t.Fatal(err)
	}
	running := DomainName(in.RunID, "a")
	stopped := DomainName(in.RunID, "b")
	foreign := DomainName(in.RunID, "foreign")
	vol := diskVolume(in.RunID, "a")
	disk, err := overlayOf(conn, pool, vol, in.Image.Disk)
	if err != nil {
		t.Fatal(err)
	}
	define := func(opts ...Option) libvirt.Domain {
		x, _ := New(opts...).Marshal()
		d, err := conn.DomainDefineXML(x)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	d := define(WithName(running), WithMemoryMiB(256), WithDisk(disk), WithSerialLog(filepath.Join(in.ArtifactsDir, running+".log")), WithMetadata(in.RunID, "a"))
	if err := os.MkdirAll(in.ArtifactsDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := conn.DomainCreate(d); err != nil {
		t.Fatal(err)
	}
	define(WithName(stopped), WithMetadata(in.RunID, "b"))
	f := define(WithName(foreign))
	defer conn.DomainUndefineFlags(f, 0)

	removed, err := remove(context.Background(), conn, in.Intervals.Teardown,
		func(o Owner) bool { return o.Run == in.RunID },
		func(v string) bool { return strings.HasPrefix(v, Prefix+in.RunID+"-") })
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(removed)
	want := []string{"domain " + running, "domain " + stopped, "volume " + vol}
	if !slices.Equal(removed, want) {
		t.Errorf("removed %v, want %v", removed, want)
	}
	if left := leftovers(t, conn, in.RunID); !slices.Equal(left, []string{"domain " + foreign}) {
		t.Errorf("left %v, want only the foreign domain", left)
	}
}

// DownRun leaves other runs alone, as a shared lab needs.
func TestLabDownRunTakesOnlyThatRun(t *testing.T) {
	conn := labConn(t)
	a, _ := labInput(t, conn)
	b, _ := labInput(t, conn)
	pool, err := EnsurePool(conn, labEnv(t).Paths.PoolDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range []BootInput{a, b} {
		x, _ := New(WithName(DomainName(in.RunID, "web01")), WithMetadata(in.RunID, "web01")).Marshal()
		if _, err := conn.DomainDefineXML(x); err != nil {
			t.Fatal(err)
		}
		if _, err := uploadFile(conn, pool, driveVolume(in.RunID, "web01"), in.Drives["web01"]); err != nil {
			t.Fatal(err)
		}
	}
	removed, err := DownRun(context.Background(), conn, a.RunID, a.Intervals.Teardown)
	if err != nil {
		t.Fatal(err)
	}
	if len(removed) != 2 {
		t.Errorf("removed %v, want run %s's domain and volume", removed, a.RunID)
	}
	expectNothingLeft(t, conn, a.RunID)
	if left := leftovers(t, conn, b.RunID); len(left) != 2 {
		t.Errorf("run %s has %v left, want its domain and volume untouched", b.RunID, left)
	}
	if _, err := DownRun(context.Background(), conn, b.RunID, b.Intervals.Teardown); err != nil {
		t.Fatal(err)
	}
	expectNothingLeft(t, conn, b.RunID)
}

// overlayOf makes an overlay over a local base image.
func overlayOf(conn Libvirt, pool libvirt.StoragePool, vol, base string) (string, error) {
	format, size, err := DiskInfo(base)
	if err != nil {
		return "", err
	}
	return createOverlay(conn, pool, vol, base, format, size)
}
