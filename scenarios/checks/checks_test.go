package checks

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/drivelab/drivelab/framework/testenv"
	"github.com/drivelab/drivelab/scenarios/checks/checktest"
)

// root is the repository root, from this package.
const root = "../.."

// Each check's verdict function is shown to pass on what a healthy node
// prints and to fail, naming the fault, on what a broken one prints.

func TestCheckHostname(t *testing.T) {
	web01 := checktest.Node(t, checktest.Reference(t, root), "web01")
	checktest.WantErr(t, checkHostname(web01, "web01.cloud.org\nweb01.cloud.org\n"), "")
	checktest.WantErr(t, checkHostname(web01, "web01\nweb01.cloud.org\n"), `hostname: expected "web01.cloud.org", actual "web01"`)
	checktest.WantErr(t, checkHostname(web01, "web01.cloud.org\nweb1.cloud.org\n"), `/etc/hostname: expected`)
}

const goodHosts = `127.0.0.1   localhost localhost.localdomain localhost4 localhost4.localdomain4
::1         localhost localhost.localdomain localhost6 localhost6.localdomain6
192.168.100.25 test2.cloud.org
192.168.100.26 haproxy.cloud.org
192.168.100.27 web01.cloud.org
192.168.100.28 web02.cloud.org
`

func TestCheckHosts(t *testing.T) {
	topo := checktest.Reference(t, root)
	web02 := checktest.Node(t, topo, "web02")
	good := []byte(goodHosts)
	wrongIP := []byte(strings.Replace(goodHosts, "192.168.100.28 web02", "192.168.100.29 web02", 1))
	checktest.WantErr(t, checkHosts(topo, web02, good, good, good), "")
	// The guest's file is not what the drive carried.
	checktest.WantErr(t, checkHosts(topo, web02, wrongIP, good, good), "line 6: expected")
	// One node's drive carried a different file than the others.
	checktest.WantErr(t, checkHosts(topo, web02, wrongIP, wrongIP, good), "differs from the client's")
	// Every drive carried the same wrong line: only the topology catches it.
	checktest.WantErr(t, checkHosts(topo, web02, wrongIP, wrongIP, wrongIP), `maps web02.cloud.org to "192.168.100.29", expected 192.168.100.28`)
	checktest.WantErr(t, checkHosts(topo, web02, good, nil, good), "carried no hosts file")
}

func TestCheckResolve(t *testing.T) {
	topo := checktest.Reference(t, root)
	good := "test2.cloud.org 192.168.100.25\nhaproxy.cloud.org 192.168.100.26\nweb01.cloud.org 192.168.100.27\nweb02.cloud.org 192.168.100.28\n"
	checktest.WantErr(t, checkResolve(topo, good), "")
	checktest.WantErr(t, checkResolve(topo, strings.Replace(good, "web01.cloud.org 192.168.100.27", "web01.cloud.org", 1)), `web01.cloud.org resolves to "", expected 192.168.100.27`)
}

func TestCheckStaticIP(t *testing.T) {
	topo := checktest.Reference(t, root)
	web01 := checktest.Node(t, topo, "web01")
	addr := "2: eth0    inet 192.168.100.27/24 brd 192.168.100.255 scope global eth0\\       valid_lft forever preferred_lft forever\n"
	route := "default via 192.168.100.1 dev eth0 onlink \n"
	checktest.WantErr(t, checkStaticIP(topo.Network, web01, addr, route, ""), "")
	checktest.WantErr(t, checkStaticIP(topo.Network, web01, strings.Replace(addr, ".27/24", ".99/24", 1), route, ""), "expected exactly [192.168.100.27/24], actual [192.168.100.99/24]")
	checktest.WantErr(t, checkStaticIP(topo.Network, web01, addr+strings.Replace(addr, ".27/24", ".50/24", 1), route, ""), "expected exactly")
	checktest.WantErr(t, checkStaticIP(topo.Network, web01, strings.Replace(addr, "global eth0", "global dynamic eth0", 1), route, ""), "DHCP-assigned")
	checktest.WantErr(t, checkStaticIP(topo.Network, web01, addr, "default via 192.168.100.254 dev eth0\n", ""), `default route: expected "default via 192.168.100.1 dev eth0"`)
	checktest.WantErr(t, checkStaticIP(topo.Network, web01, addr, "", ""), "default route")
	checktest.WantErr(t, checkStaticIP(topo.Network, web01, addr, route, "812 dhclient -4 eth0\n"), "expected no DHCP client or lease")
}

func TestCheckFirstBoot(t *testing.T) {
	topo := checktest.Reference(t, root)
	web01 := checktest.Node(t, topo, "web01")
	result := `{"v1": {"datasource": "DataSourceConfigDrive [net,ver=2][source=/dev/sr0]", "errors": []}}`
	iid := web01.UUID + "\n"
	want := map[string]string{"/etc/hosts": "aaaa", "/tmp/index.html": "bbbb"}
	sums := "aaaa  /etc/hosts\nbbbb  /tmp/index.html\n"
	checktest.WantErr(t, checkFirstBoot(web01, statusDoneJSON, result, iid, want, sums), "")
	checktest.WantErr(t, checkFirstBoot(web01, statusFinalRunningJSON, result, iid, want, sums), `expected "done", actual "running" (running in stage: modules-final)`)
	checktest.WantErr(t, checkFirstBoot(web01, statusErrorJSON, result, iid, want, sums), `expected "done", actual "error" (('scripts_user', RuntimeError`)
	checktest.WantErr(t, checkFirstBoot(web01, statusDoneJSON, strings.Replace(result, `"errors": []`, `"errors": ["('scripts_user', RuntimeError())"]`, 1), iid, want, sums), "cloud-init reported errors")
	checktest.WantErr(t, checkFirstBoot(web01, statusDoneJSON, strings.Replace(result, "ConfigDrive", "NoCloud", 1), iid, want, sums), "datasource: expected ConfigDrive")
	checktest.WantErr(t, checkFirstBoot(web01, statusDoneJSON, result, "iid-datasource-none\n", want, sums), "instance-id: expected "+web01.UUID)
	checktest.WantErr(t, checkFirstBoot(web01, statusDoneJSON, result, iid, want, "aaaa  /etc/hosts\nsha256sum: /tmp/index.html: No such file or directory\n"), "/tmp/index.html is missing")
	checktest.WantErr(t, checkFirstBoot(web01, statusDoneJSON, result, iid, want, "aaaa  /etc/hosts\ncccc  /tmp/index.html\n"), "/tmp/index.html: expected sha256")
}

// Each rule of a clean boot fails on what a guest that broke it prints, and
// names the first offending line.
func TestCheckCleanBoot(t *testing.T) {
	result := `{"v1": {"datasource": "DataSourceConfigDrive [net,ver=2][source=/dev/sr0]", "errors": []}}`
	checktest.WantErr(t, checkCleanBoot(statusDoneJSON, result, "", ""), "")
	// The first WARNING, with its line number, even when a Traceback follows.
	log := "412:2026-12-02 10:01:02,345 - schema.py[WARNING]: Deprecated cloud-config provided:\n530:Traceback (most recent call last):\n"
	checktest.WantErr(t, checkCleanBoot(statusDoneJSON, result, log, ""), "/var/log/cloud-init.log:412: 2026-12-02 10:01:02,345 - schema.py[WARNING]: Deprecated cloud-config provided:")
	checktest.WantErr(t, checkCleanBoot(statusDoneJSON, result, "77:Traceback (most recent call last):\n", ""), "/var/log/cloud-init.log:77: Traceback (most recent call last):")
	checktest.WantErr(t, checkCleanBoot(statusDoneJSON, result, noCloudInitLog+"\n", ""), "no readable /var/log/cloud-init.log")
	checktest.WantErr(t, checkCleanBoot(statusDoneJSON, result, "", "apache2.service loaded failed failed The Apache HTTP Server\nx.service loaded failed failed X\n"),
		"systemd unit apache2.service failed (loaded failed failed The Apache HTTP Server)")
	checktest.WantErr(t, checkCleanBoot(statusDoneJSON, result, "", "bash: systemctl: command not found\n"), "systemctl --failed: unexpected output")
	// cloud-init 23.4 and later count warnings as recoverable errors.
	withRec := strings.Replace(result, `"errors": []`, `"errors": [], "recoverable_errors": {"WARNING": ["Invalid cloud-config provided"]}`, 1)
	checktest.WantErr(t, checkCleanBoot(statusDoneJSON, withRec, "", ""), "cloud-init recoverable errors: WARNING: Invalid cloud-config provided")
	stageRec := strings.Replace(statusDoneJSON, `"modules-final": {`, `"modules-final": {"recoverable_errors": {"DEPRECATED": ["chpasswd.list"]}, `, 1)
	if stageRec == statusDoneJSON {
		t.Fatal("statusDoneJSON has no modules-final stage to add recoverable errors to")
	}
	checktest.WantErr(t, checkCleanBoot(stageRec, result, "", ""), "cloud-init recoverable errors: DEPRECATED: chpasswd.list")
}

func TestSplitFacts(t *testing.T) {
	parts, err := splitFacts("status: done\n\n"+Separator+"\n{\"v1\": {}}\n"+Separator+"\ncat: /x: No such file or directory\n", 3)
	if err != nil || len(parts) != 3 || parts[0] != "status: done\n" || parts[1] != `{"v1": {}}` || parts[2] != "cat: /x: No such file or directory\n" {
		t.Fatalf("splitFacts = %q, %v", parts, err)
	}
	_, err = splitFacts("status: done\n", 3)
	checktest.WantErr(t, err, "expected the output of 3 commands")
}

// status.json as cloud-init 22.4 writes it: done, running, failed.
const (
	statusDoneJSON = `{"v1": {"datasource": "DataSourceConfigDrive [net,ver=2][source=/dev/sr0]",
 "init": {"errors": [], "finished": 1700000010.5, "start": 1700000005.1},
 "init-local": {"errors": [], "finished": 1700000004.0, "start": 1700000001.0},
 "modules-config": {"errors": [], "finished": null, "start": null},
 "modules-final": {"errors": [], "finished": 1700000020.0, "start": 1700000015.0},
 "stage": null}}`
	statusFinalRunningJSON = `{"v1": {"datasource": "DataSourceConfigDrive [net,ver=2][source=/dev/sr0]",
 "init": {"errors": [], "finished": 1700000010.5, "start": 1700000005.1},
 "init-local": {"errors": [], "finished": 1700000004.0, "start": 1700000001.0},
 "modules-final": {"errors": [], "finished": null, "start": 1700000015.0},
 "stage": "modules-final"}}`
	statusErrorJSON = `{"v1": {"datasource": "DataSourceConfigDrive [net,ver=2][source=/dev/sr0]",
 "init": {"errors": [], "finished": 1700000010.5, "start": 1700000005.1},
 "modules-final": {"errors": ["('scripts_user', RuntimeError('Runparts: 1 failures (part-001) in 1 attempted commands'))"], "finished": 1700000020.0, "start": 1700000015.0},
 "stage": null}}`
)

// TestCloudInitStatusAgreesWithCloudInit holds cloudInitStatus to what
// Debian's cloud-init (installed by make test) computes from the same files.
func TestCloudInitStatusAgreesWithCloudInit(t *testing.T) {
	const py = "/usr/bin/python3"
	err := exec.Command(py, "-c", "import cloudinit.cmd.status").Run()
	testenv.Need(t, err == nil, "Debian's cloud-init is not importable from %s: %v", py, err)
	cases := []struct {
		name, status string
		result       bool
	}{
		{"done", statusDoneJSON, true},
		{"final-running", statusFinalRunningJSON, true},
		{"error", statusErrorJSON, true},
		{"no-result-yet", statusDoneJSON, false},
		{"no-status", "", false},
	}
	for _, tc := range cases {
		dir := t.TempDir()
		if tc.status != "" {
			if err := os.WriteFile(filepath.Join(dir, "status.json"), []byte(tc.status), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if tc.result {
			if err := os.WriteFile(filepath.Join(dir, "result.json"), []byte(`{"v1": {"errors": []}}`), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		out, err := exec.Command(py, "-c", `import sys
from cloudinit.cmd.status import get_status_details
from cloudinit.helpers import Paths
print(get_status_details(Paths({"run_dir": sys.argv[1]})).status.value)`, dir).CombinedOutput()
		if err != nil {
			t.Fatalf("%s: cloud-init: %v\n%s", tc.name, err, out)
		}
		statusJSON := tc.status
		if statusJSON == "" {
			statusJSON = "cat: /run/cloud-init/status.json: No such file or directory"
		}
		got, _ := cloudInitStatus(statusJSON, tc.result)
		if want := strings.TrimSpace(string(out)); got != want {
			t.Errorf("%s: cloudInitStatus = %q, cloud-init says %q", tc.name, got, want)
		}
	}
}

// TestDHCPEvidenceFindsAClient runs the check's own command on this host
// next to a process named dhclient: it finds it, and says nothing else.
func TestDHCPEvidenceFindsAClient(t *testing.T) {
	sleep := testenv.Tool(t, "sleep")
	fake := filepath.Join(t.TempDir(), "dhclient")
	if err := os.Symlink(sleep, fake); err != nil {
		t.Fatal(err)
	}
	evidence := func() string {
		out, err := exec.Command("bash", "-c", "{ "+dhcpEvidence+"; } 2>&1").Output()
		if err != nil {
			t.Fatal(err)
		}
		return string(out)
	}
	// facts() keeps stderr: a tool's warning would read as evidence.
	if out := evidence(); strings.Contains(out, "pgrep:") {
		t.Fatalf("with no DHCP client, pgrep warns, which the check would take for one:\n%s", out)
	}
	cmd := exec.Command(fake, "60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	out := evidence()
	if !strings.Contains(out, fmt.Sprintf("%d %s", cmd.Process.Pid, fake)) {
		t.Fatalf("the DHCP evidence misses a running dhclient (pid %d):\n%s", cmd.Process.Pid, out)
	}
	checktest.WantErr(t, checkStaticIP(checktest.Reference(t, root).Network, checktest.Node(t, checktest.Reference(t, root), "web01"),
		"2: eth0    inet 192.168.100.27/24 brd 192.168.100.255 scope global eth0\n", "default via 192.168.100.1 dev eth0\n", out),
		"expected no DHCP client or lease")
}

// The log command, run by sh on this host over a log like a guest's, gives
// checkCleanBoot the first WARNING with its line number, and nothing for a
// clean log.
func TestCloudInitLogCommand(t *testing.T) {
	run := onLog(t, cloudInitLogCmd).on
	clean := "2026-12-02 10:00:00,001 - util.py[DEBUG]: Cloud-init v. 22.4.2 running 'init-local'\n"
	checktest.WantErr(t, checkCleanBoot(statusDoneJSON, "{}", run(clean), ""), "")
	dirty := clean + "2026-12-02 10:00:01,002 - schema.py[WARNING]: Deprecated cloud-config provided:\nchpasswd.list: DEPRECATED\n"
	checktest.WantErr(t, checkCleanBoot(statusDoneJSON, "{}", run(dirty), ""), "/var/log/cloud-init.log:2: 2026-12-02 10:00:01,002 - schema.py[WARNING]: Deprecated cloud-config provided:")
	checktest.WantErr(t, checkCleanBoot(statusDoneJSON, "{}", onLog(t, cloudInitLogCmd).without(), ""), "no readable /var/log/cloud-init.log")
}

func TestCheckIdentity(t *testing.T) {
	n := checktest.Node(t, checktest.Reference(t, root), "web01")
	now := time.Now()
	const (
		id     = "0123456789abcdef0123456789abcdef"
		bootID = "8f0c3b8e-3a57-4d1c-9e0e-0d5b2b7e9a11"
		gate   = "gate-path=restored\ngate-steps=clock random machine-id\ngate-skipped=\n"
	)
	out := func(id, bootID, mac string, clock time.Time, gate string) string {
		return fmt.Sprintf("machine-id=%s\nboot-id=%s\nclock=%d.%09d\nmac=%s\n%s", id, bootID, clock.Unix(), clock.Nanosecond(), mac, gate)
	}
	other := func(id, bootID string) string {
		return "machine-id=" + id + "\nboot-id=" + bootID + "\ngate-path=cold\n"
	}
	others := map[string]string{
		"web02": other("fedcba9876543210fedcba9876543210", "11111111-3a57-4d1c-9e0e-0d5b2b7e9a11"),
		"test2": other("00000000000000000000000000000001", "22222222-3a57-4d1c-9e0e-0d5b2b7e9a11"),
	}
	checktest.WantErr(t, checkIdentity(n, out(id, bootID, n.MAC, now, gate), others, now, now), "")
	checktest.WantErr(t, checkIdentity(n, out(id, bootID, n.MAC, now, "gate-path=cold\n"), others, now, now), "")
	checktest.WantErr(t, checkIdentity(n, out(id, bootID, n.MAC, now, gate), map[string]string{"web02": other(id, "x")}, now, now), "machine-id "+id+" is also web02's")
	checktest.WantErr(t, checkIdentity(n, out(id, bootID, n.MAC, now, gate), map[string]string{"web02": other("x", bootID)}, now, now), "boot id "+bootID+" is also web02's")
	restoredTwin := map[string]string{"web02": "machine-id=x\nboot-id=" + bootID + "\ngate-path=restored\n"}
	checktest.WantErr(t, checkIdentity(n, out(id, bootID, n.MAC, now, gate), restoredTwin, now, now), "")
	checktest.WantErr(t, checkIdentity(n, out(id, bootID, n.MAC, now, "gate-path=cold\n"), restoredTwin, now, now), "boot id "+bootID+" is also web02's")
	checktest.WantErr(t, checkIdentity(n, out(id, bootID, n.MAC, now.Add(-time.Minute), gate), others, now, now), "clock")
	checktest.WantErr(t, checkIdentity(n, out(id, bootID, "52:54:00:00:00:01", now, gate), others, now, now), "MAC")
	checktest.WantErr(t, checkIdentity(n, out("uninitialized", bootID, n.MAC, now, gate), others, now, now), "machine-id")
	checktest.WantErr(t, checkIdentity(n, out(id, "", n.MAC, now, gate), others, now, now), "boot id")
	checktest.WantErr(t, checkIdentity(n, out(id, bootID, n.MAC, now, ""), others, now, now), "did not record which boot")
	for _, step := range []string{"clock", "random", "machine-id"} {
		skipped := strings.Replace(gate, step+" ", "", 1)
		skipped = strings.Replace(skipped, " "+step+"\n", "\n", 1)
		checktest.WantErr(t, checkIdentity(n, out(id, bootID, n.MAC, now, skipped), others, now, now), "did not do the "+step+" step")
	}
}

// cloud-init 22.4.2's reader over a drive of layout nova, in the format
// Debian's cloud-init logs in (captured on this host; the mount point as a
// guest's).
const novaReaderLog = `2026-12-05 16:27:31,533 - openstack.py[DEBUG]: Selected version '2018-08-27' from ['2012-08-10', '2013-04-04', '2013-10-17', '2015-10-15', '2016-06-30', '2016-10-06', '2017-02-22', '2018-08-27', '2020-10-14', '2025-04-04', 'content', 'latest']
2026-12-05 16:27:31,533 - util.py[DEBUG]: Reading from /run/cloud-init/tmp/tmpq3z1x2/openstack/2018-08-27/meta_data.json (quiet=False)
2026-12-05 16:27:31,533 - util.py[DEBUG]: Read 1305 bytes from /run/cloud-init/tmp/tmpq3z1x2/openstack/2018-08-27/meta_data.json
`

// The version the log's last "Selected version" line names, by the
// command's own lines over a log file like a guest's.
func TestMetadataVersion(t *testing.T) {
	run := onLog(t, selectedVersionCmd).on
	version := func(log string) (string, error) { return selectedVersion(run(log)) }
	if v, err := version(novaReaderLog); err != nil || v != "2018-08-27" {
		t.Errorf("nova layout: %q, %v; want 2018-08-27", v, err)
	}
	latest := "2026-12-05 16:30:00,001 - openstack.py[DEBUG]: Selected version 'latest' from ['content', 'latest']\n"
	if v, err := version(latest); err != nil || v != "latest" {
		t.Errorf("latest layout: %q, %v; want latest", v, err)
	}
	// Booted again as a new instance from the other drive: the last read counts.
	if v, err := version(novaReaderLog + latest); err != nil || v != "latest" {
		t.Errorf("two reads: %q, %v; want the last one's, latest", v, err)
	}
	_, err := version("2026-12-05 16:27:31,533 - util.py[DEBUG]: Cloud-init v. 22.4.2 running 'init-local'\n")
	checktest.WantErr(t, err, `/var/log/cloud-init.log has no DEBUG line "Selected version '<version>' from [...]"`)
	_, err = version(strings.Replace(novaReaderLog, "[DEBUG]", "[INFO]", 1))
	checktest.WantErr(t, err, "has no DEBUG line")
	_, err = selectedVersion(onLog(t, selectedVersionCmd).without())
	checktest.WantErr(t, err, "no readable /var/log/cloud-init.log")
}

// logCmd runs cmd, a check's command over cloud-init's log, by sh on this
// host over a log file of its own; the file's path in the output reads as
// the guest's.
type logCmd struct {
	t         *testing.T
	cmd, file string
}

func onLog(t *testing.T, cmd string) logCmd {
	return logCmd{t: t, cmd: cmd, file: filepath.Join(t.TempDir(), "cloud-init.log")}
}

// on is the command's output over a log holding text.
func (l logCmd) on(text string) string {
	l.t.Helper()
	if err := os.WriteFile(l.file, []byte(text), 0o644); err != nil {
		l.t.Fatal(err)
	}
	out, err := l.output()
	if err != nil {
		l.t.Fatalf("%v: %s", err, out)
	}
	return out
}

// without is the command's output, whatever its status, with no log.
func (l logCmd) without() string {
	l.t.Helper()
	if err := os.Remove(l.file); err != nil && !os.IsNotExist(err) {
		l.t.Fatal(err)
	}
	out, _ := l.output()
	return out
}

func (l logCmd) output() (string, error) {
	out, err := exec.Command("sh", "-c", strings.ReplaceAll(l.cmd, cloudInitLog, l.file)).CombinedOutput()
	return strings.ReplaceAll(string(out), l.file, cloudInitLog), err
}
