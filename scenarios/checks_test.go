package scenarios

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/drivelab/drivelab/framework/testenv"
	"github.com/drivelab/drivelab/framework/topology"
)

// Each check's verdict function is shown to pass on what a healthy node
// prints and to fail, naming the fault, on what a broken one prints.

func reference(t *testing.T) *topology.Topology {
	t.Helper()
	topo, err := topology.Load("../fixtures/topology.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return topo
}

func node(t *testing.T, topo *topology.Topology, name string) topology.Node {
	n, ok := topo.Node(name)
	if !ok {
		t.Fatalf("no node %s", name)
	}
	return n
}

func wantErr(t *testing.T, err error, substr string) {
	t.Helper()
	if substr == "" {
		if err != nil {
			t.Fatalf("unexpected failure: %v", err)
		}
		return
	}
	if err == nil || !strings.Contains(err.Error(), substr) {
		t.Fatalf("error = %v, want it to mention %q", err, substr)
	}
}

func TestCheckHostname(t *testing.T) {
	web01 := node(t, reference(t), "web01")
	wantErr(t, checkHostname(web01, "web01.cloud.org\nweb01.cloud.org\n"), "")
	wantErr(t, checkHostname(web01, "web01\nweb01.cloud.org\n"), `hostname: expected "web01.cloud.org", actual "web01"`)
	wantErr(t, checkHostname(web01, "web01.cloud.org\nweb1.cloud.org\n"), `/etc/hostname: expected`)
}

const goodHosts = `127.0.0.1   localhost localhost.localdomain localhost4 localhost4.localdomain4
::1         localhost localhost.localdomain localhost6 localhost6.localdomain6
192.168.100.25 test2.cloud.org
192.168.100.26 haproxy.cloud.org
192.168.100.27 web01.cloud.org
192.168.100.28 web02.cloud.org
`

func TestCheckHosts(t *testing.T) {
	topo := reference(t)
	web02 := node(t, topo, "web02")
	good := []byte(goodHosts)
	wrongIP := []byte(strings.Replace(goodHosts, "192.168.100.28 web02", "192.168.100.29 web02", 1))
	wantErr(t, checkHosts(topo, web02, good, good, good), "")
	// The guest's file is not what the drive carried.
	wantErr(t, checkHosts(topo, web02, wrongIP, good, good), "line 6: expected")
	// One node's drive carried a different file than the others.
	wantErr(t, checkHosts(topo, web02, wrongIP, wrongIP, good), "differs from the client's")
	// Every drive carried the same wrong line: only the topology catches it.
	wantErr(t, checkHosts(topo, web02, wrongIP, wrongIP, wrongIP), `maps web02.cloud.org to "192.168.100.29", expected 192.168.100.28`)
	wantErr(t, checkHosts(topo, web02, good, nil, good), "carried no hosts file")
}

func TestCheckResolve(t *testing.T) {
	topo := reference(t)
	good := "test2.cloud.org 192.168.100.25\nhaproxy.cloud.org 192.168.100.26\nweb01.cloud.org 192.168.100.27\nweb02.cloud.org 192.168.100.28\n"
	wantErr(t, checkResolve(topo, good), "")
	wantErr(t, checkResolve(topo, strings.Replace(good, "web01.cloud.org 192.168.100.27", "web01.cloud.org", 1)), `web01.cloud.org resolves to "", expected 192.168.100.27`)
}

func TestCheckStaticIP(t *testing.T) {
	topo := reference(t)
	web01 := node(t, topo, "web01")
	addr := "2: eth0    inet 192.168.100.27/24 brd 192.168.100.255 scope global eth0\\       valid_lft forever preferred_lft forever\n"
	route := "default via 192.168.100.1 dev eth0 onlink \n"
	wantErr(t, checkStaticIP(topo.Network, web01, addr, route, ""), "")
	wantErr(t, checkStaticIP(topo.Network, web01, strings.Replace(addr, ".27/24", ".99/24", 1), route, ""), "expected exactly [192.168.100.27/24], actual [192.168.100.99/24]")
	wantErr(t, checkStaticIP(topo.Network, web01, addr+strings.Replace(addr, ".27/24", ".50/24", 1), route, ""), "expected exactly")
	wantErr(t, checkStaticIP(topo.Network, web01, strings.Replace(addr, "global eth0", "global dynamic eth0", 1), route, ""), "DHCP-assigned")
	wantErr(t, checkStaticIP(topo.Network, web01, addr, "default via 192.168.100.254 dev eth0\n", ""), `default route: expected "default via 192.168.100.1 dev eth0"`)
	wantErr(t, checkStaticIP(topo.Network, web01, addr, "", ""), "default route")
	wantErr(t, checkStaticIP(topo.Network, web01, addr, route, "812 dhclient -4 eth0\n"), "expected no DHCP client or lease")
}

func TestCheckFirstBoot(t *testing.T) {
	topo := reference(t)
	web01 := node(t, topo, "web01")
	result := `{"v1": {"datasource": "DataSourceConfigDrive [net,ver=2][source=/dev/sr0]", "errors": []}}`
	iid := web01.UUID + "\n"
	want := map[string]string{"/etc/hosts": "aaaa", "/tmp/index.html": "bbbb"}
	sums := "aaaa  /etc/hosts\nbbbb  /tmp/index.html\n"
	wantErr(t, checkFirstBoot(web01, statusDoneJSON, result, iid, want, sums), "")
	wantErr(t, checkFirstBoot(web01, statusFinalRunningJSON, result, iid, want, sums), `expected "done", actual "running" (running in stage: modules-final)`)
	wantErr(t, checkFirstBoot(web01, statusErrorJSON, result, iid, want, sums), `expected "done", actual "error" (('scripts_user', RuntimeError`)
	wantErr(t, checkFirstBoot(web01, statusDoneJSON, strings.Replace(result, `"errors": []`, `"errors": ["('scripts_user', RuntimeError())"]`, 1), iid, want, sums), "cloud-init reported errors")
	wantErr(t, checkFirstBoot(web01, statusDoneJSON, strings.Replace(result, "ConfigDrive", "NoCloud", 1), iid, want, sums), "datasource: expected ConfigDrive")
	wantErr(t, checkFirstBoot(web01, statusDoneJSON, result, "iid-datasource-none\n", want, sums), "instance-id: expected "+web01.UUID)
	wantErr(t, checkFirstBoot(web01, statusDoneJSON, result, iid, want, "aaaa  /etc/hosts\nsha256sum: /tmp/index.html: No such file or directory\n"), "/tmp/index.html is missing")
	wantErr(t, checkFirstBoot(web01, statusDoneJSON, result, iid, want, "aaaa  /etc/hosts\ncccc  /tmp/index.html\n"), "/tmp/index.html: expected sha256")
}

// Each rule of a clean boot fails on what a guest that broke it prints, and
// names the first offending line.
func TestCheckCleanBoot(t *testing.T) {
	result := `{"v1": {"datasource": "DataSourceConfigDrive [net,ver=2][source=/dev/sr0]", "errors": []}}`
	wantErr(t, checkCleanBoot(statusDoneJSON, result, "", ""), "")
	// The first WARNING, with its line number, even when a Traceback follows.
	log := "412:2026-12-02 10:01:02,345 - schema.py[WARNING]: Deprecated cloud-config provided:\n530:Traceback (most recent call last):\n"
	wantErr(t, checkCleanBoot(statusDoneJSON, result, log, ""), "/var/log/cloud-init.log:412: 2026-12-02 10:01:02,345 - schema.py[WARNING]: Deprecated cloud-config provided:")
	wantErr(t, checkCleanBoot(statusDoneJSON, result, "77:Traceback (most recent call last):\n", ""), "/var/log/cloud-init.log:77: Traceback (most recent call last):")
	wantErr(t, checkCleanBoot(statusDoneJSON, result, noCloudInitLog+"\n", ""), "no readable /var/log/cloud-init.log")
	wantErr(t, checkCleanBoot(statusDoneJSON, result, "", "apache2.service loaded failed failed The Apache HTTP Server\nx.service loaded failed failed X\n"),
		"systemd unit apache2.service failed (loaded failed failed The Apache HTTP Server)")
	wantErr(t, checkCleanBoot(statusDoneJSON, result, "", "bash: systemctl: command not found\n"), "systemctl --failed: unexpected output")
	// cloud-init 23.4 and later count warnings as recoverable errors.
	withRec := strings.Replace(result, `"errors": []`, `"errors": [], "recoverable_errors": {"WARNING": ["Invalid cloud-config provided"]}`, 1)
	wantErr(t, checkCleanBoot(statusDoneJSON, withRec, "", ""), "cloud-init recoverable errors: WARNING: Invalid cloud-config provided")
	stageRec := strings.Replace(statusDoneJSON, `"modules-final": {`, `"modules-final": {"recoverable_errors": {"DEPRECATED": ["chpasswd.list"]}, `, 1)
	if stageRec == statusDoneJSON {
		t.Fatal("statusDoneJSON has no modules-final stage to add recoverable errors to")
	}
	wantErr(t, checkCleanBoot(stageRec, result, "", ""), "cloud-init recoverable errors: DEPRECATED: chpasswd.list")
}

func TestCheckHaproxyService(t *testing.T) {
	topo := reference(t)
	lb := node(t, topo, "haproxy")
	cfg := []byte("global\n  daemon\n")
	sums := "3a7b5b2c0f1e5c5d0d3a1c2b9f9c7b1d8e0a2f3c4d5e6f7a8b9c0d1e2f3a4b5c  /tmp/haproxy.cfg\n"
	listen := "LISTEN 0      100    192.168.100.26:80        0.0.0.0:*\n"
	wantErr(t, checkHaproxyService(lb, cfg, sums, listen), "config other than the injected one")
	good := sha256hex(cfg) + "  /tmp/haproxy.cfg\n"
	wantErr(t, checkHaproxyService(lb, cfg, good, listen), "")
	wantErr(t, checkHaproxyService(lb, cfg, good, "LISTEN 0 100 127.0.0.1:8080 0.0.0.0:*\n"), "nothing listens on 192.168.100.26:80")
	if got := haproxyConfigPaths("901 /usr/sbin/haproxy -Ws -f /etc/haproxy/haproxy.cfg -p /run/haproxy.pid\n902 haproxy -f /tmp/haproxy.cfg\n"); strings.Join(got, ",") != "/etc/haproxy/haproxy.cfg,/tmp/haproxy.cfg" {
		t.Fatalf("config paths = %v", got)
	}
}

func TestCheckWebPage(t *testing.T) {
	topo := reference(t)
	web02 := node(t, topo, "web02")
	page := "Greetings from web02.cloud.org !\n"
	wantErr(t, checkWebPage(topo, web02, page, []byte(page)), "")
	wantErr(t, checkWebPage(topo, web02, "Greetings from web01.cloud.org !\n", nil), "expected it to name web02.cloud.org only")
	wantErr(t, checkWebPage(topo, web02, "<h1>It works!</h1>", nil), "expected it to name web02.cloud.org only")
	wantErr(t, checkWebPage(topo, web02, "web02.cloud.org\n", []byte(page)), "differs from the injected index page")
}

const seedHaproxy = `global
   stats socket /tmp/sock mode 0666 level user
backend 8f09dbaf-0c78-48f1-8b80-662e75036485
   balance leastconn
   server 0c7d3741-df7b-4bf3-9396-14cc3c05b5a5 web01.cloud.org weight 100
   server 44c18162-301e-42f3-9f0a-5522f426412f web02.cloud.org:80 weight 100
`

func TestHaproxyStats(t *testing.T) {
	topo := reference(t)
	hc, err := parseHaproxyConfig([]byte(seedHaproxy), topo)
	if err != nil {
		t.Fatal(err)
	}
	if hc.StatsSocket != "/tmp/sock" || hc.Servers["0c7d3741-df7b-4bf3-9396-14cc3c05b5a5"] != "web01" || hc.Servers["44c18162-301e-42f3-9f0a-5522f426412f"] != "web02" {
		t.Fatalf("parsed %+v", hc)
	}
	_, err = parseHaproxyConfig([]byte(strings.Replace(seedHaproxy, "web02.cloud.org:80", "web09.cloud.org", 1)), topo)
	wantErr(t, err, "points at web09.cloud.org, which is no node")
	_, err = parseHaproxyConfig([]byte(strings.Replace(seedHaproxy, "stats socket", "#", 1)), topo)
	wantErr(t, err, "no `stats socket`")

	csv := "# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,status\n" +
		"c4c4,FRONTEND,,,0,1,100,20,0,OPEN\n" +
		"8f09,0c7d3741-df7b-4bf3-9396-14cc3c05b5a5,0,0,1,1,,11,0,UP\n" +
		"8f09,44c18162-301e-42f3-9f0a-5522f426412f,0,0,0,1,,9,0,DOWN 1/2\n" +
		"8f09,BACKEND,0,0,1,1,10,20,0,UP\n"
	stats, err := parseStats(csv, hc)
	if err != nil {
		t.Fatal(err)
	}
	if stats["web01"] != (serverStats{Current: 1, Total: 11, Status: "UP"}) || stats["web02"] != (serverStats{Current: 0, Total: 9, Status: "DOWN 1/2"}) {
		t.Fatalf("stats = %+v", stats)
	}
	_, err = parseStats("Unknown command\n", hc)
	wantErr(t, err, "lack the svname column")
}

func TestCheckSplitAndCounters(t *testing.T) {
	topo := reference(t)
	webs := topo.NodesWithRole("web")
	wantErr(t, checkSplit(webs, map[string]int{"web01": 10, "web02": 10}, 20), "")
	wantErr(t, checkSplit(webs, map[string]int{"web01": 11, "web02": 9}, 20), "")
	wantErr(t, checkSplit(webs, map[string]int{"web01": 20}, 20), "expected 10±1 per web node, web01 got 20")
	// Three web nodes (fixtures/topology-web3.yaml): 30 requests, 10±1 each.
	web3, err := topology.Load("../fixtures/topology-web3.yaml")
	if err != nil {
		t.Fatal(err)
	}
	webs3 := web3.NodesWithRole("web")
	wantErr(t, checkSplit(webs3, map[string]int{"web01": 10, "web02": 11, "web03": 9}, 30), "")
	wantErr(t, checkSplit(webs3, map[string]int{"web01": 15, "web02": 15}, 30), "expected 10±1 per web node, web01 got 15")
	wantErr(t, checkAvoided("web02", map[string]int{"web01": 4, "web03": 4}, 8), "")
	before := map[string]serverStats{"web01": {Total: 5}, "web02": {Total: 5}}
	after := map[string]serverStats{"web01": {Total: 15}, "web02": {Total: 15}}
	wantErr(t, checkCounters(map[string]int{"web01": 10, "web02": 10}, before, after, ""), "")
	wantErr(t, checkCounters(map[string]int{"web01": 12, "web02": 8}, before, after, ""), "haproxy counted 10 sessions on web01, the client saw 12")
	// The slow request itself is one more session on the busy server.
	after = map[string]serverStats{"web01": {Total: 6}, "web02": {Total: 13}}
	wantErr(t, checkCounters(map[string]int{"web02": 8}, before, after, "web01"), "")
}

func sha256hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func TestCountPages(t *testing.T) {
	topo := reference(t)
	page := func(body, curlErr string) string { return body + "\n" + curlErr + "\n" + sep + "\n" }
	web01, web02 := page("Greetings from web01.cloud.org !\n", ""), page("Greetings from web02.cloud.org !\n", "")
	seen, err := countPages(topo, web01+web02+web01, 3)
	if err != nil || seen["web01"] != 2 || seen["web02"] != 1 {
		t.Fatalf("countPages = %v, %v; want web01:2 web02:1", seen, err)
	}
	_, err = countPages(topo, web01+page("", "Failed to connect to haproxy.cloud.org port 80 after 3 ms: Couldn't connect to server")+web02, 3)
	wantErr(t, err, "request 2 of 3 to the load balancer returned no web node's page: \"Failed to connect")
	_, err = countPages(topo, web01+page("<html><body><h1>503 Service Unavailable</h1>", ""), 2)
	wantErr(t, err, "request 2 of 2 to the load balancer returned no web node's page: \"<html><body><h1>503")
	_, err = countPages(topo, web01, 2)
	wantErr(t, err, "1 of 2 requests to the load balancer gave an answer")
}

func TestSplitFacts(t *testing.T) {
	parts, err := splitFacts("status: done\n\n"+sep+"\n{\"v1\": {}}\n"+sep+"\ncat: /x: No such file or directory\n", 3)
	if err != nil || len(parts) != 3 || parts[0] != "status: done\n" || parts[1] != `{"v1": {}}` || parts[2] != "cat: /x: No such file or directory\n" {
		t.Fatalf("splitFacts = %q, %v", parts, err)
	}
	_, err = splitFacts("status: done\n", 3)
	wantErr(t, err, "expected the output of 3 commands")
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
	wantErr(t, checkStaticIP(reference(t).Network, node(t, reference(t), "web01"),
		"2: eth0    inet 192.168.100.27/24 brd 192.168.100.255 scope global eth0\n", "default via 192.168.100.1 dev eth0\n", out),
		"expected no DHCP client or lease")
}

func TestLeastConnSendsOnlyWhenSettled(t *testing.T) {
	for _, tc := range []struct {
		name  string
		stats map[string]serverStats
		want  bool
	}{
		{"busy holds the slow stream, others idle", map[string]serverStats{"web01": {Current: 0}, "web02": {Current: 1}}, true},
		// The tie the check used to meet: web01 not yet released.
		{"idle server not yet released", map[string]serverStats{"web01": {Current: 1}, "web02": {Current: 1}}, false},
		{"slow stream not counted yet", map[string]serverStats{"web01": {Current: 0}, "web02": {Current: 0}}, false},
		{"a second stream on busy", map[string]serverStats{"web01": {Current: 0}, "web02": {Current: 2}}, false},
		{"three servers, one lingering", map[string]serverStats{"web01": {Current: 0}, "web02": {Current: 1}, "web03": {Current: 1}}, false},
		{"busy not in the stats", map[string]serverStats{"web01": {Current: 0}}, false},
	} {
		if got := settled(tc.stats, "web02"); got != tc.want {
			t.Errorf("%s: settled = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// The log command, run by sh on this host over a log like a guest's, gives
// checkCleanBoot the first WARNING with its line number, and nothing for a
// clean log.
func TestCloudInitLogCommand(t *testing.T) {
	dir := t.TempDir()
	logFile := filepath.Join(dir, "cloud-init.log")
	run := func(text string) string {
		t.Helper()
		if err := os.WriteFile(logFile, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command("sh", "-c", strings.ReplaceAll(cloudInitLogCmd, cloudInitLog, logFile)).CombinedOutput()
		if err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		return strings.ReplaceAll(string(out), logFile, cloudInitLog)
	}
	clean := "2026-12-02 10:00:00,001 - util.py[DEBUG]: Cloud-init v. 22.4.2 running 'init-local'\n"
	wantErr(t, checkCleanBoot(statusDoneJSON, "{}", run(clean), ""), "")
	dirty := clean + "2026-12-02 10:00:01,002 - schema.py[WARNING]: Deprecated cloud-config provided:\nchpasswd.list: DEPRECATED\n"
	wantErr(t, checkCleanBoot(statusDoneJSON, "{}", run(dirty), ""), "/var/log/cloud-init.log:2: 2026-12-02 10:00:01,002 - schema.py[WARNING]: Deprecated cloud-config provided:")
	if err := os.Remove(logFile); err != nil {
		t.Fatal(err)
	}
	out, _ := exec.Command("sh", "-c", strings.ReplaceAll(cloudInitLogCmd, cloudInitLog, logFile)).CombinedOutput()
	wantErr(t, checkCleanBoot(statusDoneJSON, "{}", strings.ReplaceAll(string(out), logFile, cloudInitLog), ""), "no readable /var/log/cloud-init.log")
}

func TestCheckIdentity(t *testing.T) {
	n := node(t, reference(t), "web01")
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
	wantErr(t, checkIdentity(n, out(id, bootID, n.MAC, now, gate), others, now, now), "")
	wantErr(t, checkIdentity(n, out(id, bootID, n.MAC, now, "gate-path=cold\n"), others, now, now), "")
	wantErr(t, checkIdentity(n, out(id, bootID, n.MAC, now, gate), map[string]string{"web02": other(id, "x")}, now, now), "machine-id "+id+" is also web02's")
	wantErr(t, checkIdentity(n, out(id, bootID, n.MAC, now, gate), map[string]string{"web02": other("x", bootID)}, now, now), "boot id "+bootID+" is also web02's")
	restoredTwin := map[string]string{"web02": "machine-id=x\nboot-id=" + bootID + "\ngate-path=restored\n"}
	wantErr(t, checkIdentity(n, out(id, bootID, n.MAC, now, gate), restoredTwin, now, now), "")
	wantErr(t, checkIdentity(n, out(id, bootID, n.MAC, now, "gate-path=cold\n"), restoredTwin, now, now), "boot id "+bootID+" is also web02's")
	wantErr(t, checkIdentity(n, out(id, bootID, n.MAC, now.Add(-time.Minute), gate), others, now, now), "clock")
	wantErr(t, checkIdentity(n, out(id, bootID, "52:54:00:00:00:01", now, gate), others, now, now), "MAC")
	wantErr(t, checkIdentity(n, out("uninitialized", bootID, n.MAC, now, gate), others, now, now), "machine-id")
	wantErr(t, checkIdentity(n, out(id, "", n.MAC, now, gate), others, now, now), "boot id")
	wantErr(t, checkIdentity(n, out(id, bootID, n.MAC, now, ""), others, now, now), "did not record which boot")
	for _, step := range []string{"clock", "random", "machine-id"} {
		skipped := strings.Replace(gate, step+" ", "", 1)
		skipped = strings.Replace(skipped, " "+step+"\n", "\n", 1)
		wantErr(t, checkIdentity(n, out(id, bootID, n.MAC, now, skipped), others, now, now), "did not do the "+step+" step")
	}
}
