package image

import (
	"bufio"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/drivelab/drivelab/framework/config"
	"github.com/drivelab/drivelab/framework/sshx"
	"github.com/drivelab/drivelab/framework/testenv"
)

// The boot test boots the cached image the way the lab does (TCG, i440fx,
// 1 vCPU, 1 GiB, virtio disk on an overlay, config-2 CD-ROM on IDE, a tap
// on a bridge in a private network namespace with no way out) with a drive
// playing a web node that also installs haproxy. The guest checks itself
// and prints one line per check on the serial console.
//
//	make image && E2E_IMAGE_BOOT=1 go test -run TestGuest -v ./framework/image
//	E2E_IMAGE_BOOT=1 go test -run XXX -bench GuestBoot ./framework/image
//
// Boots are serialised on /tmp/drivelab-vm.lock (E2E_VM_LOCK overrides it).

// guestChecks are the checks the guest must report ok.
var guestChecks = []string{
	"no-route-out", "apache2-not-in-image", "haproxy-not-in-image",
	"apache2-installs-offline", "apache2-serves-the-page", "haproxy-installs-offline",
	"hostname-is-fqdn", "hostname-f", "default-route", "gateway-answers",
	"sshd-permits-root", "sshd-password-auth", "host-key-injected", "root-key-authorized",
	"tools", "root-free-space", "cloud-init-status-done",
}

const guestUserData = `#!/bin/bash
# A web node of the seed, plus haproxy: every line "drivelab-check NAME ok|FAIL".
check() { local name=$1; shift; if "$@" >/dev/null 2>&1; then r=ok; else r=FAIL; fi; echo "drivelab-check $name $r"; }
echo root:web01 | chpasswd
check no-route-out bash -c '! curl -s -m 3 -o /dev/null http://deb.debian.org/'
check apache2-not-in-image bash -c '! dpkg -s apache2'
check haproxy-not-in-image bash -c '! dpkg -s haproxy'
a=$(mktemp -d); tar -xzf /var/tmp/drivelab/apache2.tar.gz -C "$a"
check apache2-installs-offline dpkg -i "$a"/*.deb
install -m 0644 /var/tmp/drivelab/index.html /var/www/html/index.html
check apache2-serves-the-page bash -c 'curl -sf http://localhost/ | grep -q drivelab-index-web01'
h=$(mktemp -d); tar -xzf /var/tmp/drivelab/haproxy.tar.gz -C "$h"
check haproxy-installs-offline bash -c "dpkg -i $h/*.deb && haproxy -v"
check hostname-is-fqdn test "$(hostname)" = web01.cloud.org
check hostname-f test "$(hostname -f)" = web01.cloud.org
check default-route bash -c 'ip route show default | grep -q "via 192.168.100.1 dev eth0"'
check gateway-answers ping -c 1 -W 5 192.168.100.1
check sshd-permits-root bash -c 'sshd -T | grep -qx "permitrootlogin yes"'
check sshd-password-auth bash -c 'sshd -T | grep -qx "passwordauthentication yes"'
check host-key-injected grep -qF "@HOST_KEY@" /etc/ssh/ssh_host_ed25519_key.pub
check root-key-authorized grep -qF "@USER_KEY@" /root/.ssh/authorized_keys
check tools bash -c 'command -v curl && command -v ip && command -v ping && command -v python3'
check root-free-space test "$(df --output=avail -k / | tail -n 1)" -gt 1000000
# After the boot: cloud-init's verdict, and where the time went.
setsid bash -c '
	cloud-init status --wait >/dev/null
	if cloud-init status --long | grep -qx "status: done"; then r=ok; else r=FAIL; fi
	echo "drivelab-check cloud-init-status-done $r"
	systemctl is-system-running --wait >/dev/null
	systemd-analyze | sed "s/^/drivelab-time /"
	systemd-analyze blame | head -n 15 | sed "s/^/drivelab-time /"
	cloud-init analyze blame | sed -n "2,12p" | sed "s/^/drivelab-time /"
	echo drivelab-checks-done' </dev/null >/dev/console 2>&1 &
`

// finishedLine is cloud-init's last word on the console.
var finishedLine = regexp.MustCompile(`Cloud-init v\. \S+ finished at .* Up ([0-9.]+) seconds`)

// checkConsole reads a guest's console: every check in guestChecks must be
// ok, and cloud-init must have finished; it returns cloud-init's uptime then.
func checkConsole(console string) (upSeconds float64, err error) {
	status := map[string]string{}
	var problems []string
	for _, line := range strings.Split(console, "\n") {
		if m := finishedLine.FindStringSubmatch(line); m != nil {
			upSeconds, _ = strconv.ParseFloat(m[1], 64)
		}
		_, rest, ok := strings.Cut(line, "drivelab-check ")
		if f := strings.Fields(rest); ok && len(f) == 2 {
			status[f[0]] = f[1]
		}
	}
	for _, c := range guestChecks {
		switch status[c] {
		case "ok":
		case "":
			problems = append(problems, c+": not reported")
		default:
			problems = append(problems, c+": "+status[c])
		}
	}
	if upSeconds == 0 {
		problems = append(problems, `no "Cloud-init ... finished ... Up N seconds" line`)
	}
	if len(problems) > 0 {
		return upSeconds, fmt.Errorf("guest checks: %s", strings.Join(problems, "; "))
	}
	return upSeconds, nil
}

func TestCheckConsoleFailsOnABrokenGuest(t *testing.T) {
	var good strings.Builder
	good.WriteString("[   30.1] cloud-init[400]: Cloud-init v. 22.4.2 finished at Tue, 24 Nov 2026 15:35:29 +0000. Datasource DataSourceConfigDrive.  Up 30.25 seconds\n")
	for _, c := range guestChecks {
		fmt.Fprintf(&good, "[   29.0] cloud-init[400]: drivelab-check %s ok\n", c)
	}
	if up, err := checkConsole(good.String()); err != nil || up != 30.25 {
		t.Fatalf("a good console: up %v, %v", up, err)
	}
	for _, c := range []struct{ name, console, want string }{
		{"failed check", strings.Replace(good.String(), "default-route ok", "default-route FAIL", 1), "default-route: FAIL"},
		{"missing check", strings.Replace(good.String(), "drivelab-check cloud-init-status-done ok\n", "", 1), "cloud-init-status-done: not reported"},
		{"never finished", finishedLine.ReplaceAllString(good.String(), ""), "no \"Cloud-init ... finished"},
	} {
		if _, err := checkConsole(c.console); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: checkConsole = %v, want an error with %q", c.name, err, c.want)
		}
	}
}

func TestGuestBootsAndInstallsTheBundlesOffline(t *testing.T) {
	a := needBootableImage(t)
	g := bootGuest(t, a)
	up, err := checkConsole(g.console)
	if err != nil {
		t.Errorf("%v\nconsole: %s", err, g.logPath)
	}
	t.Logf("cloud-init finished at %.1f s of guest uptime, %.1f s after qemu started", up, g.finished.Seconds())
	for _, line := range strings.Split(g.console, "\n") {
		if _, rest, ok := strings.Cut(line, "drivelab-time "); ok {
			t.Log(rest)
		}
	}
}

// BenchmarkGuestBoot measures one guest from qemu's start to cloud-init's
// "finished" line (the brief's target: 35 s or less under TCG).
func BenchmarkGuestBoot(b *testing.B) {
	a := needBootableImage(b)
	for b.Loop() {
		g := bootGuest(b, a)
		up, err := checkConsole(g.console)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(up, "guest-up-s")
		b.ReportMetric(g.finished.Seconds(), "wall-s")
	}
}

func needBootableImage(t testing.TB) Artifacts {
	t.Helper()
	if os.Getenv("E2E_IMAGE_BOOT") == "" {
		testenv.Skip(t, "boots a VM for minutes under TCG: set E2E_IMAGE_BOOT=1 (needs root, qemu-system-x86, genisoimage, iproute2 and `e2e image build`)")
	}
	if os.Geteuid() != 0 {
		t.Fatal("E2E_IMAGE_BOOT=1 needs root: the test creates a network namespace and a tap device")
	}
	for _, tool := range []string{"qemu-system-x86_64", "qemu-img", "genisoimage", "ip"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("E2E_IMAGE_BOOT=1 needs %s: %v", tool, err)
		}
	}
	env, err := config.FromEnv()
	if err != nil {
		t.Fatal(err)
	}
	a, err := Lookup(env.Paths.Cache)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

type bootedGuest struct {
	console  string
	logPath  string
	finished time.Duration // qemu start to cloud-init's finished line
}

// bootGuest boots a once, waits for the guest's checks and stops it; the
// netns, the tap and qemu are gone when it returns.
func bootGuest(t testing.TB, a Artifacts) bootedGuest {
	t.Helper()
	dir := t.TempDir()
	waits := config.DefaultIntervals(config.AccelTCG)
	ctx, cancel := context.WithTimeout(context.Background(), waits.CloudInit)
	defer cancel()

	// One VM at a time on this machine, or the timings mean nothing.
	lockPath := cmp.Or(os.Getenv("E2E_VM_LOCK"), "/tmp/drivelab-vm.lock")
	lock, err := os.OpenFile(lockPath, os.O_CREATE|os.O_RDWR, 0o666)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	tick := time.NewTicker(waits.Poll)
	defer tick.Stop()
	for unix.Flock(int(lock.Fd()), unix.LOCK_EX|unix.LOCK_NB) != nil {
		select {
		case <-ctx.Done():
			t.Fatalf("%s stayed locked for %s (E2E_CLOUD_INIT): another VM is booting, or a process "+
				"that inherited the lock holds it (see /proc/locks; E2E_VM_LOCK names another lock)", lockPath, waits.CloudInit)
		case <-tick.C:
		}
	}

	hostKey, err := sshx.NewKeyPair("web01-host")
	if err != nil {
		t.Fatal(err)
	}
	userKey, err := sshx.NewKeyPair("drivelab-test")
	if err != nil {
		t.Fatal(err)
	}
	iso := makeTestDrive(t, dir, a, hostKey, userKey)

	ns := fmt.Sprintf("dlimgtest%d", os.Getpid())
	mustRun(t, "ip", "netns", "add", ns)
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", ns).Run() })
	for _, args := range [][]string{
		{"link", "set", "lo", "up"},
		{"link", "add", "br0", "type", "bridge"},
		{"addr", "add", "192.168.100.1/24", "dev", "br0"},
		{"link", "set", "br0", "up"},
		{"tuntap", "add", "tap0", "mode", "tap"},
		{"link", "set", "tap0", "master", "br0", "up"},
	} {
		mustRun(t, "ip", append([]string{"-n", ns}, args...)...)
	}
	overlay := filepath.Join(dir, "overlay.qcow2")
	mustRun(t, "qemu-img", "create", "-q", "-f", "qcow2", "-b", a.Disk, "-F", "qcow2", overlay)

	qemu := exec.Command("ip", "netns", "exec", ns, "qemu-system-x86_64",
		"-accel", "tcg", "-machine", "pc", "-smp", "1", "-m", "1024",
		"-nodefaults", "-display", "none", "-no-reboot", "-serial", "stdio", "-monitor", "none",
		"-kernel", a.Kernel, "-initrd", a.Initrd, "-append", a.Cmdline,
		"-drive", "file="+overlay+",format=qcow2,if=virtio,cache=unsafe",
		"-drive", "file="+iso+",format=raw,if=ide,index=2,media=cdrom,readonly=on",
		"-netdev", "tap,id=n0,ifname=tap0,script=no,downscript=no",
		"-device", "virtio-net-pci,netdev=n0,mac=52:54:00:64:00:1b",
		"-object", "rng-random,id=rng0,filename=/dev/urandom", "-device", "virtio-rng-pci,rng=rng0")
	out, err := qemu.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	qemu.Stderr = qemu.Stdout
	start := time.Now()
	if err := qemu.Start(); err != nil {
		t.Fatal(err)
	}
	stopped := make(chan struct{})
	defer func() {
		_ = qemu.Process.Kill()
		<-stopped
	}()

	g := bootedGuest{logPath: filepath.Join(dir, "console.log")}
	log, err := os.Create(g.logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	lines := make(chan string)
	go func() {
		defer close(stopped)
		defer qemu.Wait()
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	var console strings.Builder
	for {
		select {
		case <-ctx.Done():
			t.Fatalf("no drivelab-checks-done on the console after %s (E2E_CLOUD_INIT): see %s", waits.CloudInit, g.logPath)
		case line, ok := <-lines:
			if !ok {
				t.Fatalf("qemu exited before the checks were done: see %s", g.logPath)
			}
			fmt.Fprintln(log, line)
			console.WriteString(line + "\n")
			if g.finished == 0 && finishedLine.MatchString(line) {
				g.finished = time.Since(start)
			}
			if strings.Contains(line, "drivelab-checks-done") {
				g.console = console.String()
				go func() { // drain until qemu dies
					for range lines {
					}
				}()
				return g
			}
		}
	}
}

// makeTestDrive writes a config-2 ISO like the harness's for web01.
func makeTestDrive(t testing.TB, dir string, a Artifacts, hostKey, userKey sshx.KeyPair) string {
	t.Helper()
	root := filepath.Join(dir, "drive")
	hostPub := hostKey.AuthorizedKey
	files := map[string][]byte{
		"openstack/content/0000": []byte("127.0.0.1   localhost localhost.localdomain\n::1         localhost localhost.localdomain\n" +
			"192.168.100.25 test2.cloud.org\n192.168.100.26 haproxy.cloud.org\n192.168.100.27 web01.cloud.org\n192.168.100.28 web02.cloud.org\n"),
		"openstack/content/0001": readFile(t, filepath.Join(a.PackageDir, "apache2.tar.gz")),
		"openstack/content/0002": []byte("<h1>drivelab-index-web01</h1>\n"),
		"openstack/content/0003": readFile(t, filepath.Join(a.PackageDir, "haproxy.tar.gz")),
		"openstack/latest/meta_data.json": mustJSON(t, map[string]any{
			"files": []map[string]string{
				{"path": "/etc/hosts", "content_path": "/content/0000"},
				{"path": "/var/tmp/drivelab/apache2.tar.gz", "content_path": "/content/0001"},
				{"path": "/var/tmp/drivelab/index.html", "content_path": "/content/0002"},
				{"path": "/var/tmp/drivelab/haproxy.tar.gz", "content_path": "/content/0003"},
			},
			"hostname": "web01.cloud.org", "launch_index": 0, "name": "web01",
			"uuid": "282101d0-4eea-4430-a928-5a7976283898",
		}),
		"openstack/latest/network_data.json": mustJSON(t, map[string]any{
			"links": []map[string]any{{"id": "tap0", "type": "phy", "ethernet_mac_address": "52:54:00:64:00:1b", "mtu": 1500}},
			"networks": []map[string]any{{"id": "net0", "type": "ipv4", "link": "tap0", "ip_address": "192.168.100.27",
				"netmask": "255.255.255.0", "routes": []map[string]string{{"network": "0.0.0.0", "netmask": "0.0.0.0", "gateway": "192.168.100.1"}}}},
			"services": []any{},
		}),
		"openstack/latest/vendor_data.json": mustJSON(t, map[string]string{"cloud-init": "#cloud-config\n" + string(mustJSON(t, map[string]any{
			"disable_root":        false,
			"ssh_authorized_keys": []string{userKey.AuthorizedKey},
			"ssh_keys":            map[string]string{"ed25519_private": hostKey.PrivateOpenSSH, "ed25519_public": hostPub},
			"ssh_deletekeys":      true,
		}))}),
		"openstack/latest/user_data": []byte(strings.NewReplacer(
			"@HOST_KEY@", strings.Fields(hostPub)[1], "@USER_KEY@", strings.Fields(userKey.AuthorizedKey)[1]).Replace(guestUserData)),
	}
	for name, b := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	iso := filepath.Join(dir, "config.iso")
	mustRun(t, "genisoimage", "-quiet", "-R", "-J", "-V", "config-2", "-o", iso, root)
	return iso
}

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustRun(t testing.TB, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}
