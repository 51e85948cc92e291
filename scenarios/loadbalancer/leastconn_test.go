package loadbalancer

import (
	"testing"

	"github.com/drivelab/drivelab/framework/topology"
	"github.com/drivelab/drivelab/scenarios/checks"
	"github.com/drivelab/drivelab/scenarios/checks/checktest"
)

func TestCheckSplitAndCounters(t *testing.T) {
	topo := checktest.Reference(t, root)
	webs := topo.NodesWithRole("web")
	checktest.WantErr(t, checkSplit(webs, map[string]int{"web01": 10, "web02": 10}, 20), "")
	checktest.WantErr(t, checkSplit(webs, map[string]int{"web01": 11, "web02": 9}, 20), "")
	checktest.WantErr(t, checkSplit(webs, map[string]int{"web01": 20}, 20), "expected 10±1 per web node, web01 got 20")
	// Three web nodes (fixtures/topology-web3.yaml): 30 requests, 10±1 each.
	web3, err := topology.Load("../../fixtures/topology-web3.yaml")
	if err != nil {
		t.Fatal(err)
	}
	webs3 := web3.NodesWithRole("web")
	checktest.WantErr(t, checkSplit(webs3, map[string]int{"web01": 10, "web02": 11, "web03": 9}, 30), "")
	checktest.WantErr(t, checkSplit(webs3, map[string]int{"web01": 15, "web02": 15}, 30), "expected 10±1 per web node, web01 got 15")
	checktest.WantErr(t, checkAvoided("web02", map[string]int{"web01": 4, "web03": 4}, 8), "")
	before := map[string]serverStats{"web01": {Total: 5}, "web02": {Total: 5}}
	after := map[string]serverStats{"web01": {Total: 15}, "web02": {Total: 15}}
	checktest.WantErr(t, checkCounters(map[string]int{"web01": 10, "web02": 10}, before, after, ""), "")
	checktest.WantErr(t, checkCounters(map[string]int{"web01": 12, "web02": 8}, before, after, ""), "haproxy counted 10 sessions on web01, the client saw 12")
	// The slow request itself is one more session on the busy server.
	after = map[string]serverStats{"web01": {Total: 6}, "web02": {Total: 13}}
	checktest.WantErr(t, checkCounters(map[string]int{"web02": 8}, before, after, "web01"), "")
}

func TestCountPages(t *testing.T) {
	topo := checktest.Reference(t, root)
	page := func(body, curlErr string) string { return body + "\n" + curlErr + "\n" + checks.Separator + "\n" }
	web01, web02 := page("Greetings from web01.cloud.org !\n", ""), page("Greetings from web02.cloud.org !\n", "")
	seen, err := countPages(topo, web01+web02+web01, 3)
	if err != nil || seen["web01"] != 2 || seen["web02"] != 1 {
		t.Fatalf("countPages = %v, %v; want web01:2 web02:1", seen, err)
	}
	_, err = countPages(topo, web01+page("", "Failed to connect to haproxy.cloud.org port 80 after 3 ms: Couldn't connect to server")+web02, 3)
	checktest.WantErr(t, err, "request 2 of 3 to the load balancer returned no web node's page: \"Failed to connect")
	_, err = countPages(topo, web01+page("<html><body><h1>503 Service Unavailable</h1>", ""), 2)
	checktest.WantErr(t, err, "request 2 of 2 to the load balancer returned no web node's page: \"<html><body><h1>503")
	_, err = countPages(topo, web01, 2)
	checktest.WantErr(t, err, "1 of 2 requests to the load balancer gave an answer")
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
