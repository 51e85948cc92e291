package profile

import (
	"encoding/xml"
	"os"
	"strings"
	"testing"
)

func TestCloudInitEvents(t *testing.T) {
	log := `2026-12-03 07:46:31,402 - handlers.py[DEBUG]: start: init-local/check-cache: attempting to read from cache [trust]
2026-12-03 07:46:31,500 - handlers.py[DEBUG]: finish: init-local/check-cache: SUCCESS: no cache found
2026-12-03 07:46:31,600 - handlers.py[DEBUG]: start: init-local/search-ConfigDrive: searching for local data from DataSourceConfigDrive
2026-12-03 07:46:31,650 - util.py[DEBUG]: Reading from /dev/sr0
2026-12-03 07:46:40,100 - handlers.py[DEBUG]: finish: init-local/search-ConfigDrive: SUCCESS: found local data from DataSourceConfigDrive
2026-12-03 07:47:01,000 - handlers.py[DEBUG]: start: init-network/config-ssh: running config-ssh with frequency once-per-instance
2026-12-03 07:47:04,250 - handlers.py[DEBUG]: finish: init-network/config-ssh: SUCCESS: config-ssh ran successfully
2026-12-03 07:47:05,000 - handlers.py[DEBUG]: start: modules-final/config-scripts-user: running config-scripts-user
`
	got := CloudInitEvents(log)
	if len(got) != 3 {
		t.Fatalf("events %+v: want 3 (an unfinished one is left out)", got)
	}
	if got[0].Name != "init-local/search-ConfigDrive" || got[0].DurationS != 8.5 {
		t.Errorf("slowest %+v, want init-local/search-ConfigDrive 8.5s", got[0])
	}
	if got[1].Name != "init-network/config-ssh" || got[1].DurationS != 3.25 {
		t.Errorf("second %+v", got[1])
	}
}

func TestSystemdBlame(t *testing.T) {
	out := `1min 2.500s cloud-init-local.service
     31.200s cloud-init.service
       820ms ssh.service
   12ms systemd-sysctl.service
not a blame line`
	got := SystemdBlame(out)
	want := []Span{{Name: "cloud-init-local.service", DurationS: 62.5}, {Name: "cloud-init.service", DurationS: 31.2}, {Name: "ssh.service", DurationS: 0.82}, {Name: "systemd-sysctl.service", DurationS: 0.012}}
	if len(got) != len(want) {
		t.Fatalf("got %+v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("%d: %+v, want %+v", i, got[i], want[i])
		}
	}
}

// The console of a real haproxy boot (make e2e before the speed work): the
// postinst's enabling and the user_data's second `systemctl enable` are the
// slowest steps.
func TestUserDataStepsFromARealConsole(t *testing.T) {
	b, err := os.ReadFile("testdata/haproxy.console.log")
	if err != nil {
		t.Fatal(err)
	}
	got := UserDataSteps(string(b))
	if len(got) == 0 {
		t.Fatal("no steps")
	}
	if !strings.HasPrefix(got[0].Name, "Setting up haproxy") || got[0].DurationS < 25 || got[0].DurationS > 26 {
		t.Errorf("slowest step %+v, want 'Setting up haproxy' at 25.7s", got[0])
	}
	for _, s := range got {
		if strings.Contains(s.Name, "running 'init'") || strings.Contains(s.Name, "ci-info") {
			t.Errorf("a step from before the final stage: %+v", s)
		}
	}
}

func TestTimelineSVG(t *testing.T) {
	p := &Profile{Nodes: []Node{
		{Name: "test2", Stages: []Span{{Name: "firmware", StartS: 0, DurationS: 2}, {Name: "kernel", StartS: 2, DurationS: 5}, {Name: "cloud-init:final", StartS: 7, DurationS: 40}}},
		{Name: "web01", Stages: []Span{{Name: "firmware", StartS: 0, DurationS: 3}, {Name: "cloud-init:final", StartS: 3, DurationS: 120}},
			UserData: []Span{{Name: "Setting up apache2 <2.4>", DurationS: 100}}},
	}}
	svg := p.SVG("run r1 & friends", "second line")
	if err := xml.Unmarshal(svg, new(struct{})); err != nil {
		t.Fatalf("not well-formed XML: %v", err)
	}
	for _, want := range []string{"web01 cloud-init:final: 120.0s", "costliest stage 1: web01 cloud-init:final 120.0s", "Setting up apache2 &lt;2.4&gt;", "run r1 &amp; friends"} {
		if !strings.Contains(string(svg), want) {
			t.Errorf("SVG lacks %q", want)
		}
	}
	if c := p.Costliest(2); c[0].Node != "web01" || c[1].Name != "cloud-init:final" || c[1].Node != "test2" {
		t.Errorf("costliest %+v", c)
	}
}
