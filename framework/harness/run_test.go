package harness_test

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/drivelab/drivelab/framework/config"
	"github.com/drivelab/drivelab/framework/harness"
	"github.com/drivelab/drivelab/framework/platform"
	"github.com/drivelab/drivelab/framework/platform/memory"
	"github.com/drivelab/drivelab/framework/runid"
	"github.com/drivelab/drivelab/framework/sshx"
	"github.com/drivelab/drivelab/framework/topology"
	"github.com/drivelab/drivelab/framework/verify"
)

// The whole run on the in-memory platform (framework/platform/memory): the
// verbs in the order every caller uses them, with real drives, lint, SSH
// through the client node, checks, evidence and reports. Each failure test
// breaks one verb and demands that the run says so and leaves nothing.

// guest answers like the reference topology's nodes do: its own hostname.
func guest(node, cmd string) (string, int) {
	if cmd == "hostname" {
		return node + "\n", 0
	}
	return "", 0
}

// checks are two checks that cross the lab's network: one on every node,
// one from the client.
var checks = []verify.Check{
	{Name: "hostname", Run: func(ctx context.Context, env *verify.Env, n topology.Node) error {
		out, err := env.Root[n.Name].Output(ctx, "hostname")
		if err != nil {
			return err
		}
		if got := strings.TrimSpace(out); got != n.Name {
			return fmt.Errorf("hostname is %q, want %q", got, n.Name)
		}
		return nil
	}},
	{Name: "client", Roles: []string{"client"}, Run: func(ctx context.Context, env *verify.Env, n topology.Node) error {
		_, err := env.FromClient().Output(ctx, "true")
		return err
	}},
}

// run is a run of the reference topology on p, with its own state,
// artifacts and registry.
func run(t *testing.T, p platform.Platform) harness.UpInput {
	t.Helper()
	topo, err := topology.Load("../../fixtures/topology.yaml")
	if err != nil {
		t.Fatal(err)
	}
	packages := t.TempDir()
	for _, f := range []string{"haproxy.tar.gz", "apache2.tar.gz"} {
		if err := os.WriteFile(filepath.Join(packages, f), []byte(f+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	root := t.TempDir()
	iv := config.DefaultIntervals(config.AccelKVM)
	iv.Poll, iv.SSH = 10*time.Millisecond, 5*time.Second
	return harness.UpInput{
		RunID: runid.New(), Topology: topo, TemplatesDir: "../../fixtures/templates", Flavor: "debian12",
		PackageDir: packages, Platform: p, Intervals: iv, Registry: filepath.Join(root, "registry"),
		Paths: config.Paths{State: filepath.Join(root, "state"), Artifacts: filepath.Join(root, "artifacts")},
	}
}

// up brings a run of p up and takes it down when the test ends.
func up(t *testing.T, p *memory.Platform) (*harness.Run, harness.UpInput) {
	t.Helper()
	in := run(t, p)
	l, err := harness.Up(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Down(context.Background()) })
	return l, in
}

// left lists what a run left behind: machines and networks on p, its
// claim, its state folder.
func left(t *testing.T, in harness.UpInput, p *memory.Platform) []string {
	t.Helper()
	out := p.Leftovers()
	if _, err := os.Stat(in.RunID.ClaimFile(in.Registry)); err == nil {
		out = append(out, "claim")
	}
	if _, err := os.Stat(in.RunID.StateDir(in.Paths.State)); err == nil {
		out = append(out, "state folder")
	}
	return out
}

// junit reads a junit.xml's counts.
func junit(t *testing.T, path string) (tests, failures, errs int, text string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var s struct {
		Tests    int `xml:"tests,attr"`
		Failures int `xml:"failures,attr"`
		Errors   int `xml:"errors,attr"`
	}
	if err := xml.Unmarshal(b, &s); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return s.Tests, s.Failures, s.Errors, string(b)
}

func TestRunHappyPath(t *testing.T) {
	ctx := context.Background()
	p := &memory.Platform{Handler: guest}
	in := run(t, p)
	start := time.Now()
	l, err := harness.Up(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	verdict := l.Check(ctx, checks)
	o := l.Outcome("memory", checks, verdict, start)
	if o.Failed() {
		t.Errorf("the checks failed:\n%s\n%v", verdict.Table(), verify.Err(verdict.Results()))
	}
	if err := l.Collect(ctx, o.Failed()); err != nil {
		t.Error(err)
	}
	if err := l.Report(o); err != nil {
		t.Error(err)
	}
	if err := l.Down(ctx); err != nil {
		t.Error(err)
	}

	for _, f := range []string{"verdict.txt", "timings.json", "junit.xml", "profile.json", "timeline.svg", "index.html"} {
		if _, err := os.Stat(filepath.Join(l.ArtifactsDir, f)); err != nil {
			t.Errorf("the run left no %s: %v", f, err)
		}
	}
	for _, n := range in.Topology.Nodes {
		if _, err := os.Stat(in.RunID.ConsoleLog(l.ArtifactsDir, n.Name)); err != nil {
			t.Errorf("no console of %s: %v", n.Name, err)
		}
	}
	verdictText, _ := os.ReadFile(filepath.Join(l.ArtifactsDir, "verdict.txt"))
	if !strings.Contains(string(verdictText), "boot path: cold; accelerator: memory") || strings.Contains(string(verdictText), "FAIL") {
		t.Errorf("verdict.txt:\n%s", verdictText)
	}
	if tests, failures, errs, text := junit(t, filepath.Join(l.ArtifactsDir, "junit.xml")); tests != 3 || failures != 0 || errs != 0 {
		t.Errorf("junit.xml: %d tests, %d failures, %d errors, want 3, 0, 0:\n%s", tests, failures, errs, text)
	}
	var timings map[string]any
	b, _ := os.ReadFile(filepath.Join(l.ArtifactsDir, "timings.json"))
	if err := json.Unmarshal(b, &timings); err != nil || timings["boot_path"] != "cold" || timings["failed"] != false {
		t.Errorf("timings.json (%v): %s", err, b)
	}
	if got := left(t, in, p); len(got) > 0 {
		t.Errorf("after Down: %v left", got)
	}
	want := []string{"reap", "network create " + in.RunID.String()}
	if ev := p.Events(); !slices.Equal(ev[:2], want) || ev[len(ev)-1] != "network remove "+in.RunID.String() {
		t.Errorf("platform events %v: want %v first and the network's removal last", ev, want)
	}
}

// upFails runs Up with one fault and demands the error names it, that
// nothing of the run is left, and that consoles of what booted are kept.
func upFails(t *testing.T, p *memory.Platform, in harness.UpInput, want string) {
	t.Helper()
	l, err := harness.Up(context.Background(), in)
	if err == nil {
		l.Down(context.Background())
		t.Fatalf("Up succeeded, want an error saying %q", want)
	}
	if !strings.Contains(err.Error(), want) {
		t.Errorf("Up: %v\nwant it to say %q", err, want)
	}
	if got := left(t, in, p); len(got) > 0 {
		t.Errorf("after a failed Up: %v left", got)
	}
}

func TestPrepareFailsOnLintBeforeAnything(t *testing.T) {
	p := &memory.Platform{Handler: guest}
	in := run(t, p)
	in.Overlay = t.TempDir()
	// A hosts file that names web01 at web02's address: lint's to catch.
	if err := os.MkdirAll(filepath.Join(in.Overlay, "nodes", "web01"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(in.Overlay, "nodes", "web01", "hosts.tmpl"), []byte("192.168.100.28 web01.cloud.org web01\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	upFails(t, p, in, "nothing was booted")
	if ev := p.Events(); len(ev) > 0 {
		t.Errorf("lint failed, yet the platform did %v", ev)
	}
}

func TestAdmitRefusesARunTooBigForTheHost(t *testing.T) {
	p := &memory.Platform{Handler: guest, Budgeted: platform.Budget{BootingVCPUs: 4, MemoryMiB: 1024}}
	in := run(t, p)
	upFails(t, p, in, "more than this host gives runs")
	if ev := p.Events(); slices.ContainsFunc(ev, func(e string) bool { return strings.HasPrefix(e, "network") }) {
		t.Errorf("an unadmitted run made a network: %v", ev)
	}
}

func TestNetworkFailureReleasesTheClaim(t *testing.T) {
	p := &memory.Platform{Handler: guest, NetworkFault: errors.New("bridge refused")}
	upFails(t, p, run(t, p), "bridge refused")
}

func TestBootFailureRemovesTheBootedAndTheNetwork(t *testing.T) {
	p := &memory.Platform{Handler: guest, BootFault: map[string]error{"web01": errors.New("kernel panic")}}
	in := run(t, p)
	upFails(t, p, in, "node web01: kernel panic")
	// test2 and haproxy booted before web01 failed: they went again.
	if ev := p.Events(); !slices.Contains(ev, "destroy "+in.RunID.String()+" test2") {
		t.Errorf("the nodes booted before the failure were not destroyed: %v", ev)
	}
	console, err := os.ReadFile(in.RunID.ConsoleLog(in.RunID.ArtifactsDir(in.Paths.Artifacts), "web01"))
	if err != nil || !strings.Contains(string(console), "kernel panic") {
		t.Errorf("web01's console was not kept (%v): %s", err, console)
	}
}

func TestConnectRefusesAnUnpinnedHostKey(t *testing.T) {
	p := &memory.Platform{Handler: guest, WrongHostKey: map[string]bool{"haproxy": true}}
	upFails(t, p, run(t, p), "host key mismatch: haproxy presented")
}

func TestCheckFailureIsJudgedCollectedAndReported(t *testing.T) {
	ctx := context.Background()
	p := &memory.Platform{Handler: func(node, cmd string) (string, int) {
		switch {
		case node == "web02" && cmd == "hostname":
			return "localhost\n", 0
		case strings.HasPrefix(cmd, "cloud-init status"):
			return "status: done\n", 0
		}
		return guest(node, cmd)
	}}
	start := time.Now()
	l, _ := up(t, p)
	verdict := l.Check(ctx, checks)
	o := l.Outcome("memory", checks, verdict, start)
	if !o.Failed() {
		t.Fatalf("a wrong hostname passed:\n%s", verdict.Table())
	}
	if err := l.Collect(ctx, o.Failed()); err != nil {
		t.Error(err)
	}
	if err := l.Report(o); err != nil {
		t.Error(err)
	}
	status, err := os.ReadFile(filepath.Join(l.ArtifactsDir, "web02", "cloud-init-status.txt"))
	if err != nil || !strings.Contains(string(status), "status: done") {
		t.Errorf("no diagnostics of web02 after the failure (%v): %s", err, status)
	}
	if _, err := os.Stat(filepath.Join(l.ArtifactsDir, "drives", "web02.iso")); err != nil {
		t.Errorf("the drives were not kept after the failure: %v", err)
	}
	tests, failures, _, text := junit(t, filepath.Join(l.ArtifactsDir, "junit.xml"))
	if tests != 3 || failures != 1 || !strings.Contains(text, `hostname on web02: hostname is &#34;localhost&#34;, want &#34;web02&#34;`) {
		t.Errorf("junit.xml: %d tests, %d failures, want 3 and 1 naming web02:\n%s", tests, failures, text)
	}
	verdictText, _ := os.ReadFile(filepath.Join(l.ArtifactsDir, "verdict.txt"))
	if !strings.Contains(string(verdictText), "FAIL") {
		t.Errorf("verdict.txt shows no failure:\n%s", verdictText)
	}
	// Report's page reads the run's own folder: web02's failure, its console.
	shown := failuresShown(t, l.ArtifactsDir)
	if !strings.Contains(shown, `hostname is "localhost", want "web02"`) || !strings.Contains(shown, "memory: web02 booting from") {
		t.Errorf("index.html does not show web02's failure and console:\n%s", shown)
	}
}

func TestCollectWritesDownWhatANodeCouldNotGive(t *testing.T) {
	ctx := context.Background()
	p := &memory.Platform{Handler: guest}
	l, _ := up(t, p)
	// web01 is gone by the time its evidence is read.
	for _, m := range l.Cluster.Machines() {
		if m.Name() == "web01" {
			if err := m.Destroy(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := l.Collect(ctx, true); err != nil {
		t.Errorf("Collect returned a node's failure: %v", err)
	}
	b, err := os.ReadFile(filepath.Join(l.ArtifactsDir, "web01", "cloud-init.log"))
	if err != nil || !strings.Contains(string(b), "[drivelab: ") {
		t.Errorf("the failed diagnostic is not written down (%v): %q", err, b)
	}
}

func TestReportFailsWhenItCannotWrite(t *testing.T) {
	ctx := context.Background()
	p := &memory.Platform{Handler: guest}
	l, _ := up(t, p)
	verdict := l.Check(ctx, checks)
	// verdict.txt cannot be written: a folder stands in its place.
	if err := os.Mkdir(filepath.Join(l.ArtifactsDir, "verdict.txt"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := l.Report(l.Outcome("memory", checks, verdict, time.Now())); err == nil {
		t.Error("Report wrote no verdict and said nothing")
	}
}

func TestDownKeepsTheClaimWhenMachinesStay(t *testing.T) {
	ctx := context.Background()
	p := &memory.Platform{Handler: guest}
	l, in := up(t, p)
	p.DestroyFault = errors.New("libvirtd is gone")
	if err := l.Down(ctx); err == nil || !strings.Contains(err.Error(), "libvirtd is gone") {
		t.Errorf("Down = %v, want the destroy's failure", err)
	}
	// What is left must stay claimed, or the next run could not tell it
	// from an orphan's and another run's budget would ignore it.
	if _, err := os.Stat(in.RunID.ClaimFile(in.Registry)); err != nil {
		t.Errorf("the claim went while machines stayed: %v", err)
	}
	p.DestroyFault = nil
	if err := l.Down(ctx); err != nil {
		t.Errorf("a second Down: %v", err)
	}
	if got := left(t, in, p); len(got) > 0 {
		t.Errorf("after the second Down: %v left", got)
	}
}

func TestUpRefusesAnIncompleteInput(t *testing.T) {
	_, err := harness.Up(context.Background(), harness.UpInput{})
	for _, want := range []string{"UpInput.RunID", "UpInput.Topology", "UpInput.Platform", "UpInput.Intervals"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Up(UpInput{}) = %v, want it to name %s", err, want)
		}
	}
}

// The developer loop on the in-memory platform: a kept lab, a template
// change on one node, Update boots that node alone with a fresh instance
// uuid and connects to all; Attach then checks the lab as it runs.
func TestKeptLabUpdateBootsOnlyTheChangedNode(t *testing.T) {
	ctx := context.Background()
	p := &memory.Platform{Handler: guest}
	in := harness.KeepInput{UpInput: run(t, p), Scenario: "memory"}
	in.Overlay = t.TempDir()
	l, rec, err := harness.Keep(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
	t.Cleanup(func() { l.Down(ctx) })
	was := map[string]string{}
	for _, n := range rec.Nodes {
		was[n.Name] = n.UUID
	}
	booted := len(p.Events())

	page := filepath.Join(in.Overlay, "nodes", "web02", "index.html.tmpl")
	if err := os.MkdirAll(filepath.Dir(page), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(page, []byte("<h1>web02.cloud.org, changed</h1>\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	updated, changes, err := harness.Update(ctx, in, rec)
	if err != nil {
		t.Fatal(err)
	}
	if len(changes) != 1 || changes[0].Node != "web02" || changes[0].UUID == was["web02"] {
		t.Errorf("changes %+v, want web02 alone with a fresh uuid", changes)
	}
	id := in.RunID.String()
	if ev := p.Events()[booted:]; !slices.Equal(ev, []string{"destroy " + id + " web02", "boot " + id + " web02"}) {
		t.Errorf("Update did %v, want web02 destroyed and booted again, nothing else", ev)
	}
	// The lab answers as a whole: the checks pass through every session.
	if v := updated.Check(ctx, checks); v.Failed() {
		t.Errorf("after Update:\n%s", v.Table())
	}
	updated.Close()
	attached, drift, err := harness.Attach(ctx, in, rec)
	if err != nil || len(drift) != 0 {
		t.Fatalf("Attach after Update: %v, drift %+v", err, drift)
	}
	attached.Close()
}

// Several networks: the harness reaches the web nodes of
// fixtures/topology-twotier.yaml through haproxy, the one node on both
// networks, and the memory platform, like the lab, lets the client reach
// only what shares a network with it.
func TestRunSeveralNetworksReachesNodesThroughTheirHop(t *testing.T) {
	p := &memory.Platform{Handler: guest}
	in := run(t, p)
	topo, err := topology.Load("../../fixtures/topology-twotier.yaml")
	if err != nil {
		t.Fatal(err)
	}
	in.Topology = topo
	l, err := harness.Up(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Down(context.Background())
	env := l.Env
	if len(env.Root) != 4 {
		t.Fatalf("sessions to %d nodes, want 4", len(env.Root))
	}
	web01, _ := topo.Node("web01")
	via, addr := env.Via(web01)
	if via != env.Root["haproxy"] || addr.String() != "10.20.0.27" {
		t.Errorf("web01 is reached via %v at %s, want haproxy at 10.20.0.27", via, addr)
	}
	// No key is offered: the jump's channel opens (or is refused for want
	// of a route) before any login is tried.
	ctx := context.Background()
	target := sshx.Target{Name: "web01", Addr: "10.20.0.27:22", User: "root", HostKey: env.HostKeys["web01"]}
	if _, err := env.FromClient().Jump(ctx, target); err == nil || !strings.Contains(err.Error(), "no route to host") {
		t.Errorf("the client jumped to web01 on the back network, which it is not on: %v", err)
	}
	if _, err := env.Root["haproxy"].Jump(ctx, target); err == nil || strings.Contains(err.Error(), "no route to host") {
		t.Errorf("haproxy does not reach web01 on the back network: %v", err)
	}
	if v := l.Check(ctx, checks); v.Failed() {
		t.Fatalf("checks through the hops:\n%s", v.Table())
	}
}
