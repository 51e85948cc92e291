package vm_test

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	libvirt "github.com/digitalocean/go-libvirt"
	"github.com/drivelab/drivelab/framework/config"
	"github.com/drivelab/drivelab/framework/vm"
	"github.com/drivelab/drivelab/framework/vm/vmtest"
)

// bridgeOK is a lab dialer whose bridge exists and that reaches no guest.
type bridgeOK struct{}

func (bridgeOK) DialContext(context.Context, string, string) (net.Conn, error) {
	return nil, errors.New("no guests in a unit test")
}
func (bridgeOK) CheckBridge(context.Context, string) error { return nil }

// fakeInput is a boot of the fixture topology against the fake libvirt,
// shrunk so that any host's memory fits it.
func fakeInput(t *testing.T, conn vm.Libvirt, run string) vm.BootInput {
	t.Helper()
	in := vm.GoodInput(t)
	in.Conn, in.RunID, in.Dialer = conn, run, bridgeOK{}
	for i := range in.Topology.Nodes {
		in.Topology.Nodes[i].MemoryMiB = 1
	}
	return in
}

// A node that cannot be defined fails the boot, and the boot removes every
// domain and volume it created for the run, and nothing of another run.
func TestBootAllFailureRemovesTheRun(t *testing.T) {
	f := vmtest.New()
	otherDom := vm.DomainName("other", "web01")
	x, err := vm.New(vm.WithName(otherDom), vm.WithMetadata("other", "web01")).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.DomainDefineXML(x); err != nil {
		t.Fatal(err)
	}
	f.AddVolume(vm.DomainName("other", "web01") + ".qcow2")

	in := fakeInput(t, f, "r1")
	broken := vm.DomainName("r1", "web02")
	f.FailDefine[broken] = errors.New("injected: define refused")
	_, err = vm.BootAll(context.Background(), in)
	if err == nil || !strings.Contains(err.Error(), "node web02") || !strings.Contains(err.Error(), "injected") {
		t.Fatalf("BootAll = %v, want node web02's define error", err)
	}
	if got, want := f.Domains(), []string{otherDom}; !slices.Equal(got, want) {
		t.Errorf("domains left %v, want only the other run's %v", got, want)
	}
	if got, want := f.Volumes(), []string{vm.DomainName("other", "web01") + ".qcow2"}; !slices.Equal(got, want) {
		t.Errorf("volumes left %v, want only the other run's %v", got, want)
	}
	created := 0
	for _, c := range f.Calls() {
		if strings.HasPrefix(c, "DomainDefineXML "+vm.Prefix+"r1-") {
			created++
		}
	}
	if created == 0 {
		t.Error("BootAll defined nothing before the failing node: the test shows no cleanup")
	}
}

// DownRun removes exactly the run's domains and volumes; Leftovers agrees.
func TestDownRunTouchesNoOtherRun(t *testing.T) {
	f := vmtest.New()
	for _, run := range []string{"r1", "r2"} {
		for _, node := range []string{"a", "b"} {
			x, err := vm.New(vm.WithName(vm.DomainName(run, node)), vm.WithMetadata(run, node)).Marshal()
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.DomainDefineXML(x); err != nil {
				t.Fatal(err)
			}
			f.AddVolume(vm.DomainName(run, node) + ".qcow2")
		}
	}
	dom, err := f.DomainLookupByName(vm.DomainName("r1", "a"))
	if err == nil {
		err = f.DomainCreate(dom)
	}
	if err != nil {
		t.Fatal(err)
	}
	removed, err := vm.DownRun(context.Background(), f, "r1", config.DefaultIntervals(config.AccelTCG).Teardown)
	if err != nil {
		t.Fatal(err)
	}
	if len(removed) != 4 {
		t.Errorf("removed %v, want r1's two domains and two volumes", removed)
	}
	for _, name := range append(f.Domains(), f.Volumes()...) {
		if !strings.HasPrefix(name, vm.Prefix+"r2-") {
			t.Errorf("%s is left (or r2's was removed)", name)
		}
	}
	if len(f.Domains()) != 2 || len(f.Volumes()) != 2 {
		t.Errorf("r2 must keep its 2 domains and 2 volumes: %v %v", f.Domains(), f.Volumes())
	}
	if left, err := vm.Leftovers(f, "r1"); err != nil || len(left) != 0 {
		t.Errorf("Leftovers(r1) = %v, %v", left, err)
	}
}

// A snapshot boot restores every node paused from its own copy of the
// snapshot, plugs its drive and NIC in and resumes it, and creates none
// cold. A restore that fails fails the boot, which removes every domain
// and leaves none of the nodes' save images behind.
func TestSnapshotBootRestoresPlugsAndResumes(t *testing.T) {
	f := vmtest.New()
	in := fakeInput(t, f, "r1")
	in.Boot = config.BootSnapshot
	in.Limits = config.Limits{MaxVCPUs: 1}
	for _, n := range in.Topology.Nodes {
		vm.WriteFakeSnapshot(t, in, f, vm.Shape{VCPUs: 1, MemoryMiB: n.MemoryMiB})
	}
	if err := os.MkdirAll(in.PoolDir, 0o755); err != nil {
		t.Fatal(err)
	}
	broken := vm.DomainName("r1", "web02")
	f.FailCreate[broken] = errors.New("injected: restore refused")
	_, err := vm.BootAll(context.Background(), in)
	if err == nil || !strings.Contains(err.Error(), "node web02") || !strings.Contains(err.Error(), "injected") {
		t.Fatalf("BootAll = %v, want web02's restore error", err)
	}
	calls := f.Calls()
	for _, n := range []string{"test2", "haproxy", "web01"} {
		dom := vm.DomainName("r1", n)
		var got []string
		for _, c := range calls {
			if strings.HasSuffix(c, " "+dom) && !strings.HasPrefix(c, "DomainDestroy") && !strings.HasPrefix(c, "DomainUndefine") {
				got = append(got, strings.TrimSuffix(c, " "+dom))
			}
		}
		want := []string{"DomainDefineXML", "DomainRestoreFlags", "DomainUpdateDeviceFlags", "DomainAttachDeviceFlags", "DomainResume"}
		if !slices.Equal(got, want) {
			t.Errorf("%s: calls %v, want %v", n, got, want)
		}
	}
	if slices.ContainsFunc(calls, func(c string) bool { return strings.HasPrefix(c, "DomainCreate ") }) {
		t.Errorf("a node booted cold in a snapshot boot: %v", calls)
	}
	if got := f.Domains(); len(got) != 0 {
		t.Errorf("domains left: %v", got)
	}
	saves, _ := filepath.Glob(filepath.Join(in.PoolDir, "*.save"))
	if len(saves) != 0 {
		t.Errorf("save images left: %v", saves)
	}
}

// interruptedInfo is a libvirt whose DomainGetInfo is cut short by a
// libvirtd restart while it still says it is connected, as go-libvirt does
// between failing the calls in flight and marking itself disconnected.
type interruptedInfo struct{ *vmtest.Libvirt }

func (interruptedInfo) DomainGetInfo(libvirt.Domain) (uint8, uint64, uint64, uint16, uint64, error) {
	return 0, 0, 0, 0, 0, libvirt.ErrInterrupted
}

// A libvirtd restart between a sample's two calls is the lost connection,
// not a failure of the second call (the libvirtd-restarted drill).
func TestSampleCutShortByARestartIsTheLostConnection(t *testing.T) {
	f := vmtest.New()
	x, err := vm.New(vm.WithName("dl-r1-web01"), vm.WithMetadata("r1", "web01")).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	dom, err := f.DomainDefineXML(x)
	if err == nil {
		err = f.DomainCreate(dom)
	}
	if err != nil {
		t.Fatal(err)
	}
	_, err = vm.SampleOnce(interruptedInfo{f}, dom)
	if err == nil || !strings.Contains(err.Error(), "lost the connection to libvirtd") {
		t.Errorf("sample = %v, want the lost connection", err)
	}
}
