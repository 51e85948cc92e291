package lab

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
)

// hostShell is a remote host as a Shell: its commands run in namespace
// host (the host's own), its dials from the namespace they name. It keeps
// every command, to show that a remote lab runs nothing elsewhere.
type hostShell struct {
	host string
	mu   sync.Mutex
	ran  []string
}

func (h *hostShell) Run(ctx context.Context, argv ...string) ([]byte, error) {
	h.mu.Lock()
	h.ran = append(h.ran, strings.Join(argv, " "))
	h.mu.Unlock()
	// nsenter, not `ip netns exec`: that one runs in a mount namespace of
	// its own, where the namespaces `ip netns add` mounts stay.
	return Local.Run(ctx, append([]string{"nsenter", "--net=" + NetnsDir + "/" + h.host}, argv...)...)
}

func (h *hostShell) DialIn(ctx context.Context, ns, network, address string) (net.Conn, error) {
	return NamespaceDialer(ns).DialContext(ctx, network, address)
}

// A remote lab makes a run's network on the host through its shell: the
// bridge in the host's own namespace (where its libvirtd puts the guests'
// taps), the run's namespace beside it; guests are dialled from there.
func TestRemoteSegmentRunsThroughTheShell(t *testing.T) {
	needRoot(t)
	ctx := context.Background()
	host := scratchNamespace(t)
	sh := &hostShell{host: host}
	c := testConfig(fmt.Sprintf("dltest-%d-r", os.Getpid()))
	c.Mode, c.Shell, c.LibvirtSocket = ModeRemote, sh, ""
	if err := c.validate(); err != nil {
		t.Fatal(err)
	}
	s := c.Segment("a")
	t.Cleanup(func() { s.Remove(context.Background()) })
	for i := range 2 { // idempotent
		if err := s.Create(ctx); err != nil {
			t.Fatalf("round %d: %v", i, err)
		}
	}
	if err := s.Dialer().CheckBridge(ctx, s.Bridge); err != nil {
		t.Fatal(err)
	}
	// The bridge is the host's, not this machine's or a lab namespace's.
	if _, err := linkKind(ctx, Local, host, s.Bridge); err != nil {
		t.Fatalf("bridge %s is not in the host's namespace: %v", s.Bridge, err)
	}
	if _, err := linkKind(ctx, Local, "", s.Bridge); err == nil {
		t.Fatalf("bridge %s is in this machine's namespace", s.Bridge)
	}
	for _, want := range []string{"ip netns add " + s.Namespace, "ip link add " + s.Bridge + " type bridge"} {
		if !slices.ContainsFunc(sh.ran, func(r string) bool { return strings.HasPrefix(r, want) }) {
			t.Errorf("the shell never ran %q; it ran:\n%s", want, strings.Join(sh.ran, "\n"))
		}
	}
	// A guest on the host's bridge answers through the run's namespace.
	guest := fmt.Sprintf("dltest-%d-rg", os.Getpid())
	mustRun(t, "ip", "netns", "add", guest)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", guest).Run() })
	mustRun(t, "ip", "-n", host, "link", "add", "tap0", "type", "veth", "peer", "name", "eth0", "netns", guest)
	mustRun(t, "ip", "-n", host, "link", "set", "tap0", "master", s.Bridge, "up")
	mustRun(t, "ip", "-n", guest, "addr", "add", "192.168.100.25/24", "dev", "eth0")
	mustRun(t, "ip", "-n", guest, "link", "set", "eth0", "up")
	greeter(t, listenIn(t, guest, "192.168.100.25:2222"), "remote guest")
	conn, err := s.Dialer().DialContext(ctx, "tcp", "192.168.100.25:2222")
	if err != nil {
		t.Fatal(err)
	}
	if got := greeting(t, conn); got != "remote guest" {
		t.Errorf("reached %q", got)
	}
	runs, err := c.SegmentRuns(ctx)
	if err != nil || !slices.Contains(runs, "a") {
		t.Fatalf("SegmentRuns = %v, %v; want run a", runs, err)
	}
	if err := s.Remove(ctx); err != nil {
		t.Fatal(err)
	}
	if s.Exists(ctx) {
		t.Error("the segment is still there after Remove")
	}
}
