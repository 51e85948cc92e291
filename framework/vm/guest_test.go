package vm

import (
	"context"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/drivelab/drivelab/framework/image"
	"github.com/drivelab/drivelab/framework/testenv"
	"github.com/drivelab/drivelab/framework/topology"
)

// These lab tests boot the real guest image (`e2e image build`) under the
// TCG intervals: a minute or two each here.

// guestInput is labInput for one node booting the guest image.
func guestInput(t *testing.T, node string) BootInput {
	t.Helper()
	conn := labConn(t)
	a, err := image.Lookup("")
	if err != nil {
		testenv.Skip(t, "no guest image to boot (`e2e image build`): %v", err)
	}
	in, _ := labInput(t, conn)
	n, _ := in.Topology.Node(node)
	n.MemoryMiB = 768
	in.Topology.Nodes = []topology.Node{n}
	in.Drives = map[string]string{node: configDrive(t, in.Topology, n)}
	in.Image = Image{Disk: a.Disk, Kernel: a.Kernel, Initrd: a.Initrd, Cmdline: a.Cmdline}
	in.Progress = testWriter{t}
	return in
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// configDrive writes the smallest config-2 drive that gives a node its
// address: meta_data.json and network_data.json.
func configDrive(t *testing.T, topo *topology.Topology, n topology.Node) string {
	t.Helper()
	root := filepath.Join(t.TempDir(), "drive")
	dir := filepath.Join(root, "openstack", "latest")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(name string, v any) {
		b, _ := json.Marshal(v)
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("meta_data.json", map[string]any{"uuid": n.UUID, "hostname": n.FQDN, "name": n.InstanceName})
	mask := net.IP(net.CIDRMask(topo.Network.CIDR.Bits(), 32)).String()
	write("network_data.json", map[string]any{
		"links":    []any{map[string]any{"id": "eth0", "type": "phy", "ethernet_mac_address": n.MAC}},
		"networks": []any{map[string]any{"id": "net0", "type": "ipv4", "link": "eth0", "ip_address": n.IP.String(), "netmask": mask}},
		"services": []any{},
	})
	iso := filepath.Join(t.TempDir(), n.Name+".iso")
	out, err := exec.Command(testenv.Tool(t, "genisoimage"), "-quiet", "-o", iso, "-V", "config-2", "-J", "-r", root).CombinedOutput()
	if err != nil {
		t.Fatalf("genisoimage: %v: %s", err, out)
	}
	return iso
}

func TestLabGuestBootsToReady(t *testing.T) {
	in := guestInput(t, "test2")
	run, err := BootAll(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	n := run.Node("test2")
	tornDown := false
	defer func() {
		if !tornDown {
			run.Teardown(context.Background())
		}
	}()
	if !strings.Contains(n.Finished.Datasource, "DataSourceConfigDrive") || !strings.Contains(n.Finished.Datasource, "/dev/sr0") {
		t.Errorf("cloud-init read %q, want the config drive from the CD-ROM /dev/sr0", n.Finished.Datasource)
	}
	if n.Finished.Uptime <= 0 || n.CloudInit <= 0 || n.Ready < n.CloudInit || run.AllReady < n.Ready {
		t.Errorf("timings out of order: uptime %v, cloud-init %v, ready %v, all ready %v", n.Finished.Uptime, n.CloudInit, n.Ready, run.AllReady)
	}
	if run.SlowestCloudInit() != n {
		t.Error("the only node is not the slowest")
	}
	for _, f := range []string{n.ConsoleLog, n.DomainXML} {
		if st, err := os.Stat(f); err != nil || st.Size() == 0 {
			t.Errorf("artifact %s: %v", f, err)
		}
	}
	if err := run.Teardown(context.Background()); err != nil {
		t.Fatal(err)
	}
	tornDown = true
	expectNothingLeft(t, in.Conn, in.RunID)
	if err := run.Teardown(context.Background()); err != nil {
		t.Errorf("a second teardown failed: %v", err)
	}
}

func TestLabGuestPanicIsQuotedInTheError(t *testing.T) {
	in := guestInput(t, "web01")
	in.Image.Cmdline += " init=/bin/false"
	in.Intervals.CloudInit = 45 * time.Second
	_, err := BootAll(context.Background(), in)
	if err == nil {
		t.Fatal("a guest whose init fails became ready")
	}
	for _, want := range []string{"node web01", "cloud-init did not finish within 45s (CloudInit)", "Kernel panic"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not say %q:\n%v", want, err)
		}
	}
	expectNothingLeft(t, in.Conn, in.RunID)
}
