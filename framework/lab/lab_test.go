package lab

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/drivelab/drivelab/framework/config"
	"github.com/drivelab/drivelab/framework/testenv"
	"github.com/drivelab/drivelab/framework/wait"
	"golang.org/x/sys/unix"
)

// These tests create scratch namespaces of their own (never the lab's), so
// they need root and iproute2 but no running lab.
func needRoot(t *testing.T) {
	t.Helper()
	testenv.Root(t) // to create a scratch network namespace
	testenv.Tool(t, "ip")
}

// scratchNamespace creates a namespace with lo up and removes it at the end.
func scratchNamespace(t *testing.T) string {
	t.Helper()
	ns := fmt.Sprintf("dltest-%d-%s", os.Getpid(), strings.ToLower(strings.ReplaceAll(t.Name(), "/", "-")))
	ns = ns[:min(len(ns), 40)]
	mustRun(t, "ip", "netns", "add", ns)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
	mustRun(t, "ip", "-n", ns, "link", "set", "lo", "up")
	return ns
}

func mustRun(t *testing.T, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v: %s", name, strings.Join(args, " "), err, out)
	}
}

// greeter accepts connections on ln and writes msg to each.
func greeter(t *testing.T, ln net.Listener, msg string) {
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			io.WriteString(c, msg)
			c.Close()
		}
	}()
}

func greeting(t *testing.T, c net.Conn) string {
	t.Helper()
	defer c.Close()
	b, err := io.ReadAll(c)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// listenIn opens a listener inside the namespace, on the same thread
// switching the dialer itself uses.
func listenIn(t *testing.T, ns, addr string) net.Listener {
	t.Helper()
	var ln net.Listener
	err := nsDialer{ns: ns}.inNamespace(func() error {
		var err error
		ln, err = net.Listen("tcp", addr)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

func TestNamespaceDialerReachesOnlyTheNamespace(t *testing.T) {
	needRoot(t)
	ns := scratchNamespace(t)
	ctx := context.Background()

	// The same port on 127.0.0.1 in both namespaces: the greeting tells
	// which namespace the connection landed in.
	var port string
	for range 20 {
		inNS := listenIn(t, ns, "127.0.0.1:0")
		_, port, _ = net.SplitHostPort(inNS.Addr().String())
		onHost, err := net.Listen("tcp", "127.0.0.1:"+port)
		if err != nil {
			inNS.Close() // port taken on the host; pick another
			continue
		}
		greeter(t, inNS, "netns")
		greeter(t, onHost, "host")
		break
	}
	addr := "127.0.0.1:" + port

	d := NamespaceDialer(ns)
	for i := range 50 {
		c, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			t.Fatalf("dial %d through the namespace: %v", i, err)
		}
		if got := greeting(t, c); got != "netns" {
			t.Fatalf("dial %d through the namespace landed in %q", i, got)
		}
	}
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	if got := greeting(t, c); got != "host" {
		t.Fatalf("plain dial landed in %q, want host", got)
	}

	// Every thread of this process is back in the host namespace.
	self, err := os.Readlink("/proc/self/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	tasks, _ := filepath.Glob("/proc/self/task/*/ns/net")
	for _, task := range tasks {
		if got, err := os.Readlink(task); err == nil && got != self {
			t.Errorf("%s is in %s after dialing, want %s", task, got, self)
		}
	}
}

func TestNamespaceDialerFailsClosed(t *testing.T) {
	needRoot(t)
	ctx := context.Background()

	// A host listener that a fallback to the host namespace would reach.
	onHost, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	greeter(t, onHost, "host")
	addr := onHost.Addr().String()

	stale := fmt.Sprintf("dltest-stale-%d", os.Getpid())
	if err := os.WriteFile(filepath.Join(NetnsDir, stale), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(filepath.Join(NetnsDir, stale)) })

	// A name that points at our own namespace, as a bad bind mount would.
	own := fmt.Sprintf("dltest-own-%d", os.Getpid())
	ownPath := filepath.Join(NetnsDir, own)
	if err := os.WriteFile(ownPath, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("/proc/self/ns/net", ownPath, "", unix.MS_BIND, ""); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Unmount(ownPath, unix.MNT_DETACH); os.Remove(ownPath) })

	for _, tc := range []struct{ ns, want string }{
		{"dltest-missing-namespace", "does not exist"},
		{stale, "not a live network namespace"},
		{own, "caller's own namespace"},
	} {
		c, err := NamespaceDialer(tc.ns).DialContext(ctx, "tcp", addr)
		if err == nil {
			t.Fatalf("netns %s: dial succeeded and reached %q; want an error", tc.ns, greeting(t, c))
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("netns %s: error %q does not say %q", tc.ns, err, tc.want)
		}
	}
	ns := scratchNamespace(t)
	if _, err := NamespaceDialer(ns).DialContext(ctx, "tcp", "localhost:22"); err == nil || !strings.Contains(err.Error(), "literal IP") {
		t.Errorf("dialing a host name: got %v, want a refusal", err)
	}
}

func TestCheckBridge(t *testing.T) {
	needRoot(t)
	ns := scratchNamespace(t)
	ctx := context.Background()
	d := NamespaceDialer(ns)
	if err := d.CheckBridge(ctx, "br0"); err == nil || !strings.Contains(err.Error(), "e2e lab up") {
		t.Errorf("missing bridge: got %v, want an error naming `e2e lab up`", err)
	}
	mustRun(t, "ip", "-n", ns, "link", "add", "veth0", "type", "veth", "peer", "name", "veth1")
	if err := d.CheckBridge(ctx, "veth0"); err == nil || !strings.Contains(err.Error(), "not a bridge") {
		t.Errorf("veth link: got %v, want 'not a bridge'", err)
	}
	mustRun(t, "ip", "-n", ns, "link", "add", "br0", "type", "bridge")
	if err := d.CheckBridge(ctx, "br0"); err != nil {
		t.Errorf("existing bridge: %v", err)
	}
	if err := NamespaceDialer("dltest-missing-namespace").CheckBridge(ctx, "br0"); err == nil {
		t.Error("missing namespace: CheckBridge succeeded")
	}
}

// The host dialer runs here on a thread inside a scratch namespace that has
// no route at all, so even a broken guard could not send a packet anywhere.
func TestHostDialerDialsOnlyOntoTheBridge(t *testing.T) {
	needRoot(t)
	ns := scratchNamespace(t)
	ctx := context.Background()
	ln := listenIn(t, ns, "127.0.0.1:0")
	greeter(t, ln, "netns")

	var got string
	var refused error
	err := nsDialer{ns: ns}.inNamespace(func() error {
		c, err := HostDialer("lo").DialContext(ctx, "tcp", ln.Addr().String())
		if err != nil {
			return err
		}
		got = greeting(t, c)
		_, refused = HostDialer("lo").DialContext(ctx, "tcp", "192.0.2.1:22")
		return nil
	})
	if err != nil {
		t.Fatalf("dial onto lo's own prefix: %v", err)
	}
	if got != "netns" {
		t.Errorf("got %q", got)
	}
	if refused == nil || !strings.Contains(refused.Error(), "is not on bridge lo") {
		t.Errorf("dial off the bridge: got %v, want a refusal before any packet", refused)
	}
}

func testConfig(ns string) Config {
	return Config{
		Mode:          ModeNetns,
		Namespace:     ns,
		Networks:      []Net{{Name: "default", Bridge: "br0", Gateways: []netip.Prefix{netip.MustParsePrefix("192.168.100.1/24")}}},
		LibvirtSocket: config.DefaultLibvirtSocket,
		Intervals:     config.DefaultIntervals(config.AccelKVM),
	}
}

func TestEnsureNamespaceIsIdempotent(t *testing.T) {
	needRoot(t)
	ns := scratchNamespace(t)
	ctx := context.Background()
	c := testConfig(ns)
	for i := range 2 {
		if err := ensureNamespace(ctx, c); err != nil {
			t.Fatalf("round %d: %v", i, err)
		}
	}
	out, err := exec.Command("ip", "-n", ns, "-4", "addr", "show").Output()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(out), "192.168.100.1") {
		t.Errorf("the lab's namespace holds the gateway; only runs' namespaces may:\n%s", out)
	}
}

// fakeGuest plugs a namespace with ip into the segment's bridge and greets
// with msg on port, as a guest's tap device and sshd would.
func fakeGuest(t *testing.T, s Segment, ip, port, msg string) {
	t.Helper()
	guest := fmt.Sprintf("dltest-%d-%s", os.Getpid(), s.Bridge)
	mustRun(t, "ip", "netns", "add", guest)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", guest).Run() })
	tap := s.Bridge + "t"
	mustRun(t, "ip", "-n", s.lab.Namespace, "link", "add", tap, "type", "veth", "peer", "name", "eth0", "netns", guest)
	mustRun(t, "ip", "-n", s.lab.Namespace, "link", "set", tap, "master", s.Bridge, "up")
	mustRun(t, "ip", "-n", guest, "addr", "add", ip+"/24", "dev", "eth0")
	mustRun(t, "ip", "-n", guest, "link", "set", "eth0", "up")
	greeter(t, listenIn(t, guest, ip+":"+port), msg)
}

// Two runs of one topology, same addresses: each reaches its own guest only,
// and removing them leaves nothing behind.
func TestSegmentsKeepRunsApart(t *testing.T) {
	needRoot(t)
	ctx := context.Background()
	c := testConfig(scratchNamespace(t))
	a, b := c.Segment(fmt.Sprintf("t%d-a", os.Getpid())), c.Segment(fmt.Sprintf("t%d-b", os.Getpid()))
	for _, s := range []Segment{a, b} {
		t.Cleanup(func() { s.Remove(context.Background()) })
		for i := range 2 { // idempotent
			if err := s.Create(ctx); err != nil {
				t.Fatalf("segment %s, round %d: %v", s.Run, i, err)
			}
		}
		if err := s.Dialer().CheckBridge(ctx, s.Bridge); err != nil {
			t.Fatalf("segment %s: %v", s.Run, err)
		}
	}
	if a.Bridge == b.Bridge || a.Namespace == b.Namespace {
		t.Fatalf("two runs share a network: %+v %+v", a, b)
	}
	fakeGuest(t, a, "192.168.100.25", "2222", "guest of a")
	fakeGuest(t, b, "192.168.100.25", "2222", "guest of b")
	for _, s := range []Segment{a, b} {
		conn, err := s.Dialer().DialContext(ctx, "tcp", "192.168.100.25:2222")
		if err != nil {
			t.Fatalf("run %s: %v", s.Run, err)
		}
		if got, want := greeting(t, conn), "guest of "+s.Run[len(s.Run)-1:]; got != want {
			t.Errorf("run %s reached %q, want %q", s.Run, got, want)
		}
	}
	runs, err := c.SegmentRuns(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Another lab on the host (the real one, while tests run) sees none of them.
	other, err := testConfig(c.Namespace + "x").SegmentRuns(ctx)
	if err != nil || len(other) != 0 {
		t.Errorf("another lab lists this lab's runs: %v (%v)", other, err)
	}
	for _, s := range []Segment{a, b} {
		if !slices.Contains(runs, s.Run) {
			t.Errorf("SegmentRuns = %v, misses %s", runs, s.Run)
		}
		if err := s.Remove(ctx); err != nil {
			t.Fatal(err)
		}
		if s.Exists(ctx) {
			t.Errorf("segment %s still exists after Remove", s.Run)
		}
	}
}

func TestDownRefusesWhileGuestsRun(t *testing.T) {
	needRoot(t)
	ns := scratchNamespace(t)
	ctx := context.Background()
	c := testConfig(ns)
	var progress bytes.Buffer
	c.Progress = &progress

	guest := exec.Command("ip", "netns", "exec", ns, "sleep", "300")
	if err := guest.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { guest.Wait(); close(exited) }()
	t.Cleanup(func() { guest.Process.Kill() })
	// `ip netns exec` enters the namespace just after it starts.
	entered := func(context.Context) (bool, string, error) {
		inside, _, err := splitByNamespace([]process{{guest.Process.Pid, "sleep"}}, ns)
		return len(inside) > 0, fmt.Sprintf("pid %d is not in netns %s yet", guest.Process.Pid, ns), err
	}
	in := wait.Input{What: "the guest in the namespace", Interval: c.Intervals.Poll, Timeout: c.Intervals.Command}
	if err := wait.Until(ctx, in, entered); err != nil {
		t.Fatal(err)
	}

	err := Down(ctx, c, false)
	if err == nil || !strings.Contains(err.Error(), "e2e down") || !strings.Contains(err.Error(), "pid "+strconv.Itoa(guest.Process.Pid)) {
		t.Fatalf("Down with a guest running: got %v, want a refusal naming pid %d and `e2e down`", err, guest.Process.Pid)
	}
	if _, err := os.Stat(filepath.Join(NetnsDir, ns)); err != nil {
		t.Fatalf("refused Down removed the namespace: %v", err)
	}
	if err := Down(ctx, c, true); err != nil {
		t.Fatalf("forced Down: %v", err)
	}
	select {
	case <-exited:
	case <-time.After(c.Intervals.Teardown):
		t.Fatal("forced Down left the guest running")
	}
	if _, err := os.Stat(filepath.Join(NetnsDir, ns)); err == nil {
		t.Fatal("forced Down left the namespace")
	}
}

// A libvirtd outside the namespace (the real lab's, in its own namespace)
// makes Up fail before it creates anything.
func TestUpRefusesForeignLibvirtd(t *testing.T) {
	needRoot(t)
	if ps, _ := processes("libvirtd"); len(ps) == 0 {
		testenv.Skip(t, "no libvirtd runs; start the lab (`e2e lab up`) to run this check")
	}
	ns := fmt.Sprintf("dltest-up-%d", os.Getpid())
	err := Up(context.Background(), testConfig(ns))
	if err == nil || !strings.Contains(err.Error(), "runs outside netns "+ns) {
		t.Fatalf("got %v, want a refusal naming the foreign libvirtd", err)
	}
	if _, err := os.Stat(filepath.Join(NetnsDir, ns)); err == nil {
		exec.Command("ip", "netns", "del", ns).Run()
		t.Fatal("Up created the namespace before refusing")
	}
}

func TestConfigValidate(t *testing.T) {
	good := testConfig("drivelab")
	if err := good.validate(); err != nil {
		t.Fatal(err)
	}
	for name, mutate := range map[string]func(*Config){
		"mode":     func(c *Config) { c.Mode = "vmware" },
		"networks": func(c *Config) { c.Networks = nil },
		"socket":   func(c *Config) { c.LibvirtSocket = "" },
		"netns":    func(c *Config) { c.Namespace = "" },
		"gateway":  func(c *Config) { c.Networks = []Net{{Name: "default", Bridge: "br0"}} },
		"interval": func(c *Config) { c.Intervals.Poll = 0 },
	} {
		c := good
		mutate(&c)
		if err := c.validate(); err == nil {
			t.Errorf("%s: bad config accepted", name)
		}
	}
}

// Host mode is tried from a thread inside a scratch namespace, which stands
// in for a KVM runner's host: it creates nothing and needs the bridge there.
func TestUpHostModeCreatesNothing(t *testing.T) {
	needRoot(t)
	ns := scratchNamespace(t)
	ctx := context.Background()
	c := testConfig(ns)
	c.Mode = ModeHost
	var progress bytes.Buffer
	c.Progress = &progress
	inScratch := func() error {
		var upErr error
		if err := (nsDialer{ns: ns}).inNamespace(func() error { upErr = Up(ctx, c); return nil }); err != nil {
			t.Fatal(err)
		}
		return upErr
	}
	if err := inScratch(); err == nil || !strings.Contains(err.Error(), "bridge br0 does not exist in the host namespace") {
		t.Fatalf("without a bridge: got %v", err)
	}
	mustRun(t, "ip", "-n", ns, "link", "add", "br0", "type", "bridge")
	if pingLibvirt(c.LibvirtSocket) != nil {
		testenv.Skip(t, "(the rest) no libvirtd answers on %s; start the lab (`e2e lab up`) to run it", c.LibvirtSocket)
	}
	if err := inScratch(); err != nil {
		t.Fatalf("with the bridge and libvirtd: %v", err)
	}
	if !strings.Contains(progress.String(), "nothing created") {
		t.Errorf("progress: %s", progress.String())
	}
	for _, d := range daemons {
		if _, err := os.Stat(pidFile(ns, d)); err == nil {
			t.Errorf("host mode started %s", d)
		}
	}
	if links, _ := exec.Command("ip", "-n", ns, "-br", "link").Output(); strings.Count(string(links), "\n") != 2 {
		t.Errorf("host mode changed the links:\n%s", links)
	}
}
