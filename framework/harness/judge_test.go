package harness_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/drivelab/drivelab/framework/harness"
	"github.com/drivelab/drivelab/framework/platform/memory"
	"github.com/drivelab/drivelab/framework/quarantine"
	"github.com/drivelab/drivelab/framework/topology"
	"github.com/drivelab/drivelab/framework/verify"
)

// Reruns and quarantine on the in-memory platform: a lab, the two checks
// of run_test.go and one more registered here only, "flaky" or "broken",
// that fails on web02 as the test says. Each test runs the verbs the suite
// and `e2e check` run and reads what Report wrote.

// flakyCheck fails on web02 the first `fails` times it runs there and
// passes after (fails < 0: always). calls counts its runs by node.
func flakyCheck(name string, fails int) (verify.Check, *sync.Map) {
	calls := &sync.Map{}
	var mu sync.Mutex
	return verify.Check{Name: name, Run: func(_ context.Context, _ *verify.Env, n topology.Node) error {
		mu.Lock()
		v, _ := calls.LoadOrStore(n.Name, 0)
		count := v.(int) + 1
		calls.Store(n.Name, count)
		mu.Unlock()
		if n.Name == "web02" && (fails < 0 || count <= fails) {
			return errors.New("web02 answered 502 (call " + strconv.Itoa(count) + ")")
		}
		return nil
	}}, calls
}

// judgedRun brings a lab up, runs checks under p, collects and reports,
// and returns the outcome with verdict.txt and junit.xml as written.
func judgedRun(t *testing.T, checks []verify.Check, p harness.CheckPolicy) (o harness.Outcome, verdictTxt, junitXML string) {
	t.Helper()
	ctx := context.Background()
	l, _ := up(t, &memory.Platform{Handler: guest})
	start := time.Now()
	verdict := l.CheckWith(ctx, checks, p)
	o = l.Outcome("memory", checks, verdict, start)
	if err := l.Collect(ctx, o.FailedOnce()); err != nil {
		t.Error(err)
	}
	if err := l.Report(o); err != nil {
		t.Fatal(err)
	}
	v, err := os.ReadFile(filepath.Join(l.ArtifactsDir, "verdict.txt"))
	if err != nil {
		t.Fatal(err)
	}
	_, _, _, j := junit(t, filepath.Join(l.ArtifactsDir, "junit.xml"))
	return o, string(v), j
}

// testcase is the <testcase> element of check in a junit.xml, "" if none.
func testcase(junitXML, check string) string {
	start := strings.Index(junitXML, `<testcase name="`+check+`"`)
	if start < 0 {
		return ""
	}
	end := strings.Index(junitXML[start:], "</testcase>")
	if end < 0 {
		end = strings.Index(junitXML[start:], "/>")
	}
	return junitXML[start : start+end]
}

// cell is node's cell of check in a verdict table.
func cell(verdictTxt, node, check string) string {
	var header []string
	for _, line := range strings.Split(verdictTxt, "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) > 0 && f[0] == "node":
			header = f
		case len(f) == len(header) && len(f) > 0 && f[0] == node:
			for i, h := range header {
				if h == check {
					return f[i]
				}
			}
		}
	}
	return ""
}

func TestRerunTellsAFlakyCheckFromAFailure(t *testing.T) {
	flaky, calls := flakyCheck("flaky", 1)
	o, v, j := judgedRun(t, append(checks[:2:2], flaky), harness.CheckPolicy{Reruns: 1})
	if o.Failed() {
		t.Errorf("a check that passed when run again failed the run:\n%s", v)
	}
	if n, _ := calls.Load("web02"); n != 2 {
		t.Errorf("flaky ran %v times on web02, want 2 (once, then once again)", n)
	}
	if n, _ := calls.Load("web01"); n != 1 {
		t.Errorf("flaky ran %v times on web01, where it passed: want 1 (only failures run again)", n)
	}
	if c := cell(v, "web02", "flaky"); c != "FLAKY" {
		t.Errorf("verdict.txt: web02's flaky cell is %q, want FLAKY:\n%s", c, v)
	}
	if !strings.Contains(v, "FLAKY flaky on web02: failed, then passed on attempt 2; first failure: web02 answered 502 (call 1)") {
		t.Errorf("verdict.txt keeps no first failure:\n%s", v)
	}
	tc := testcase(j, "flaky")
	if !strings.Contains(tc, `<flakyFailure message="attempt 1: flaky on web02: web02 answered 502 (call 1)" type="check">`) ||
		strings.Contains(tc, "<failure") || strings.Contains(tc, "<skipped") {
		t.Errorf("junit.xml: want a passing flaky testcase with one flakyFailure, got:\n%s", tc)
	}
	var r verify.Result
	for _, res := range o.Verdict.Results() {
		if res.Check == "flaky" && res.Node == "web02" {
			r = res
		}
	}
	if !r.Flaky() || len(r.Attempts) != 2 || r.FirstFailure() == nil {
		t.Errorf("the outcome's result of flaky on web02: %+v, want flaky with 2 attempts", r)
	}
	page, err := os.ReadFile(filepath.Join(o.ArtifactsDir, harness.HTMLReport))
	if err != nil || !strings.Contains(string(page), ">FLAKY</a>") || !strings.Contains(string(page), "web02 answered 502 (call 1)") {
		t.Errorf("index.html shows no FLAKY cell and first failure (%v):\n%s", err, page)
	}
}

func TestWithoutRerunsAFlakyCheckFails(t *testing.T) {
	flaky, calls := flakyCheck("flaky", 1)
	o, v, j := judgedRun(t, append(checks[:2:2], flaky), harness.CheckPolicy{})
	if !o.Failed() {
		t.Errorf("a failed check passed the run with no reruns:\n%s", v)
	}
	if n, _ := calls.Load("web02"); n != 1 {
		t.Errorf("flaky ran %v times on web02 with no reruns, want 1", n)
	}
	if c := cell(v, "web02", "flaky"); c != "FAIL" {
		t.Errorf("verdict.txt: web02's flaky cell is %q, want FAIL:\n%s", c, v)
	}
	if tc := testcase(j, "flaky"); !strings.Contains(tc, "<failure") || strings.Contains(tc, "Failure") {
		t.Errorf("junit.xml: want a failure and no rerun or flaky elements:\n%s", tc)
	}
}

func TestRerunOfABrokenCheckStaysRed(t *testing.T) {
	broken, calls := flakyCheck("broken", -1)
	o, v, j := judgedRun(t, append(checks[:2:2], broken), harness.CheckPolicy{Reruns: 2})
	if !o.Failed() {
		t.Errorf("a check that failed every attempt passed the run:\n%s", v)
	}
	if n, _ := calls.Load("web02"); n != 3 {
		t.Errorf("broken ran %v times on web02, want 3 (once and twice again)", n)
	}
	if c := cell(v, "web02", "broken"); c != "FAIL" || !strings.Contains(v, "FAIL  broken on web02: failed all 3 attempts; first failure: web02 answered 502 (call 1)") {
		t.Errorf("verdict.txt: web02's broken cell %q, want FAIL and every attempt named:\n%s", c, v)
	}
	tc := testcase(j, "broken")
	if !strings.Contains(tc, `<failure message="broken on web02: web02 answered 502 (call 3) (failed all 3 attempts)"`) ||
		strings.Count(tc, "<rerunFailure") != 2 || !strings.Contains(tc, `message="attempt 1: broken on web02: web02 answered 502 (call 1)"`) ||
		strings.Contains(tc, "flakyFailure") {
		t.Errorf("junit.xml: want the failure and two rerunFailures, the first attempt's kept:\n%s", tc)
	}
}

// quarantineFile writes a quarantine list with one entry for the broken
// check on web02, expiring at the end of 2031-05-17, and loads it.
func quarantineFile(t *testing.T) *quarantine.List {
	t.Helper()
	path := filepath.Join(t.TempDir(), "quarantine.yaml")
	body := "quarantine:\n  - scenario: memory\n    check: broken\n    node: web02\n    reason: web02's backend is being replaced\n    expires: 2031-05-17\n"
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	l, err := quarantine.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func day(s string) func() time.Time {
	return func() time.Time {
		d, err := time.Parse(time.DateTime, s)
		if err != nil {
			panic(err)
		}
		return d
	}
}

func TestAQuarantinedFailureDoesNotFailTheRun(t *testing.T) {
	broken, _ := flakyCheck("broken", -1)
	q := quarantineFile(t)
	o, v, j := judgedRun(t, append(checks[:2:2], broken), harness.CheckPolicy{Reruns: 1, Quarantine: q.For("memory"), Now: day("2031-05-17 23:59:59")})
	if o.Failed() {
		t.Errorf("a quarantined failure failed the run on its last day:\n%s", v)
	}
	if c := cell(v, "web02", "broken"); c != "QUAR" || !strings.Contains(v, "QUAR  broken on web02: quarantined until 2031-05-17 (web02's backend is being replaced; "+q.Path+":2), failed: web02 answered 502 (call 1)") {
		t.Errorf("verdict.txt: web02's broken cell %q, want QUAR with the reason, the entry and the failure:\n%s", c, v)
	}
	tc := testcase(j, "broken")
	if !strings.Contains(tc, `<skipped message="quarantined: web02&#39;s backend is being replaced (until 2031-05-17)" type="quarantined">`) ||
		!strings.Contains(tc, "web02 answered 502") || strings.Contains(tc, "<failure") {
		t.Errorf("junit.xml: want the check skipped as quarantined, its failure in the text:\n%s", tc)
	}
}

func TestAnExpiredQuarantineFailsTheRunAgain(t *testing.T) {
	broken, _ := flakyCheck("broken", -1)
	q := quarantineFile(t)
	o, v, j := judgedRun(t, append(checks[:2:2], broken), harness.CheckPolicy{Quarantine: q.For("memory"), Now: day("2031-05-18 00:00:00")})
	if !o.Failed() {
		t.Errorf("a failure passed the run the day after its quarantine expired:\n%s", v)
	}
	if c := cell(v, "web02", "broken"); c != "FAIL" || !strings.Contains(v, "FAIL  broken on web02: quarantine expired on 2031-05-17") {
		t.Errorf("verdict.txt: web02's broken cell %q, want FAIL naming the expiry:\n%s", c, v)
	}
	if tc := testcase(j, "broken"); !strings.Contains(tc, `<failure message="broken on web02: quarantine expired on 2031-05-17 (web02&#39;s backend is being replaced; `) {
		t.Errorf("junit.xml: want a failure saying the quarantine expired:\n%s", tc)
	}
}
