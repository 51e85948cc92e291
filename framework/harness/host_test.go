package harness_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/drivelab/drivelab/framework/harness"
	"github.com/drivelab/drivelab/framework/report"
)

// The reports of scenarios run on other libvirt hosts (E2E_HOSTS): each
// result names its host; a local run's reports stay as they were.

const remoteHost = "10.251.1.2"

// reports are o's verdict text, JUnit XML and report page, as written.
func reports(t *testing.T, dir string, o harness.Outcome) (text, junit, page string) {
	t.Helper()
	path := filepath.Join(dir, "junit.xml")
	if err := harness.WriteJUnit(path, []harness.Outcome{o}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	html, err := report.HTML(harness.ReportPage(dir, "run test", []harness.Outcome{o}))
	if err != nil {
		t.Fatal(err)
	}
	return o.Text(), string(b), string(html)
}

func TestReportsNameTheRemoteHost(t *testing.T) {
	dir := t.TempDir()
	checked := checkFailureOutcome(t, dir)
	noBoot := checked
	noBoot.Boot = nil
	for _, tc := range []struct {
		name  string
		o     harness.Outcome
		first string
	}{
		{"checks ran", checked, "host: 10.251.1.2; boot path: cold; accelerator: kvm"},
		{"nothing booted", noBoot, "host: 10.251.1.2"},
		{"up failed", upFailureOutcome(t, dir), "failed on host 10.251.1.2 before its checks: node web01 "},
		{"skipped", harness.Skipped("loadbalancer", nil, "no room"), "skipped on host 10.251.1.2: no room"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.o.Host = remoteHost
			text, junit, page := reports(t, dir, tc.o)
			if first, _, _ := strings.Cut(text, "\n"); !strings.HasPrefix(first, tc.first) {
				t.Errorf("the verdict's first line is %q, want it to start %q", first, tc.first)
			}
			for _, want := range []string{`<property name="host" value="10.251.1.2"></property>`, `classname="loadbalancer@10.251.1.2"`} {
				if !strings.Contains(junit, want) {
					t.Errorf("the JUnit XML lacks %s:\n%s", want, junit)
				}
			}
			if strings.Contains(junit, `classname="loadbalancer"`) {
				t.Errorf("a testcase's classname does not name the host:\n%s", junit)
			}
			if n := strings.Count(page, "scenario loadbalancer on host 10.251.1.2"); n != 2 {
				t.Errorf("the page names the host %d time(s), want it in the header's list and the section's title:\n%s", n, page)
			}
			if !strings.Contains(page, "<dt>libvirt host:</dt> <dd>10.251.1.2</dd>") {
				t.Errorf("the section's settings do not name the libvirt host:\n%s", page)
			}
		})
	}
}

// "local" is this machine's libvirtd, as "" is: nothing names it, and the
// reports are byte for byte what they were before hosts were named.
func TestReportsOfALocalRunNameNoHost(t *testing.T) {
	dir := t.TempDir()
	for _, o := range []harness.Outcome{checkFailureOutcome(t, dir), upFailureOutcome(t, dir), harness.Skipped("loadbalancer", nil, "no room")} {
		text, junit, page := reports(t, dir, o)
		o.Host = harness.Local
		localText, localJUnit, localPage := reports(t, dir, o)
		if localText != text || localJUnit != junit || localPage != page {
			t.Errorf("Host %q changed the reports:\n%s\n%s\nwant:\n%s\n%s", o.Host, localText, localJUnit, text, junit)
		}
		for _, s := range []string{"on host", `name="host"`, "@", "libvirt host"} {
			if strings.Contains(text+junit, s) || strings.Contains(page, s) {
				t.Errorf("a local run's reports hold %q", s)
			}
		}
	}
}

// make e2e's page over several hosts lists them; over one, it does not.
func TestReportPageListsTheHostsUsed(t *testing.T) {
	root := t.TempDir()
	lb := greenOutcome(t, filepath.Join(root, "loadbalancer"))
	lb.Host = remoteHost
	cc := upFailureOutcome(t, filepath.Join(root, "cloudconfig"))
	cc.Scenario, cc.Host = "cloudconfig", "10.251.1.3"
	skipped := harness.Skipped("failover", nil, "shard 2/2: scenario failover runs in shard 1/2")
	doc, _ := page(t, root, lb, cc, skipped)
	if got := text(find(doc, byClass("hosts"))); got != "on 2 hosts: 10.251.1.2, 10.251.1.3" {
		t.Errorf("the hosts read %q, want both, and no host for the skipped scenario", got)
	}
	for i, want := range []string{"PASS scenario loadbalancer on host 10.251.1.2 run", "FAIL scenario cloudconfig on host 10.251.1.3 run", "SKIP scenario failover"} {
		if got := text(findAll(doc, tag("li"))[i]); got != want && !strings.HasPrefix(got, want+" ") {
			t.Errorf("the header's scenario %d reads %q, want %q", i, got, want)
		}
	}
	cc.Host = remoteHost
	doc, _ = page(t, root, lb, cc, skipped)
	if n := find(doc, byClass("hosts")); n != nil {
		t.Errorf("one host is listed: %q", text(n))
	}
}
