package loadbalancer

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/drivelab/drivelab/framework/topology"
	"github.com/drivelab/drivelab/framework/verify"
	"github.com/drivelab/drivelab/scenarios/checks"
)

const (
	// requestsPerServer sequential requests per web node in the split phase.
	requestsPerServer = 10
	// splitTolerance is how far a server's share may stray from an even split.
	// haproxy's leastconn round-robins among equally loaded servers, and
	// sequential requests leave every server idle before the next one, so
	// the split is exact up to where the rotation starts: one request.
	splitTolerance = 1
	// busyRequests are sent while one backend is held busy.
	busyRequests = 8
	// slowFile is a sparse file the web nodes serve slowly to hold a backend busy.
	slowFile   = "drivelab-slow.bin"
	webRoot    = "/var/www/html"
	slowSizeMB = 256
	// slowRate keeps the slow download running far longer than the check,
	// even after socket buffers on the way have filled.
	slowRate = "16k"
)

// LeastConn: requests from the client node to the load balancer reach every
// web node in an even split; while one backend is held busy by a slow
// download, every next request goes to another backend (which roundrobin
// would not do); and the counts seen agree with haproxy's own counters.
func LeastConn(ctx context.Context, env *verify.Env, node topology.Node) error {
	src, lb, webs, err := loadBalancer(env, node, "leastconn")
	if err != nil {
		return err
	}
	stats, err := startStatsReader(ctx, env, lb, src)
	if err != nil {
		return err
	}
	defer stats.Close()

	// Phase 2 holds a backend busy with a slow download of a sparse file on
	// every web node; place it while phase 1 runs.
	slowPath := webRoot + "/" + slowFile
	placing := make(chan error, 1)
	go func() {
		placing <- onEach(ctx, env, webs, fmt.Sprintf("truncate -s %dM %s && chmod 644 %[2]s", slowSizeMB, slowPath))
	}()
	placed := sync.OnceValue(func() error { return <-placing })
	defer func() {
		placed()
		onEach(context.WithoutCancel(ctx), env, webs, "rm -f "+slowPath)
	}()

	// Phase 1: an even split of sequential requests.
	before, err := stats.read(ctx)
	if err != nil {
		return err
	}
	seen, err := requestPages(ctx, env, node, requestsPerServer*len(webs))
	if err != nil {
		return err
	}
	after, err := stats.read(ctx)
	if err != nil {
		return err
	}
	if err := checkSplit(webs, seen, requestsPerServer*len(webs)); err != nil {
		return err
	}
	if err := checkCounters(seen, before, after, ""); err != nil {
		return err
	}

	// Phase 2: hold one backend busy; leastconn must route around it. No
	// request reached haproxy since the last read: it is the new baseline.
	before = after
	requests, err := startPageRequester(ctx, env, node)
	if err != nil {
		return err
	}
	defer requests.Close()
	if err := placed(); err != nil {
		return err
	}
	pid, err := checks.Run(ctx, env, env.FromClient(), fmt.Sprintf(
		"nohup curl -s --limit-rate %s -o /dev/null %s >/dev/null 2>&1 & echo $!", slowRate, loadBalancerURL(node, slowFile)))
	if err != nil {
		return err
	}
	defer checks.Run(context.WithoutCancel(ctx), env, env.FromClient(), "kill "+strings.TrimSpace(pid)+" 2>/dev/null; true")
	busy, err := waitForBusyServer(ctx, env, stats)
	if err != nil {
		return err
	}
	// Each request is sent only once haproxy's stats show the state the
	// check claims to test: busy holds the slow stream and every other
	// server has released its last request. Sent back to back, a request
	// can meet the previous one's stream not yet released on the idle
	// server; the two then tie, and leastconn may rightly pick busy.
	seen = map[string]int{}
	for i := range busyRequests {
		if _, err := waitForStats(ctx, env, stats, env.Intervals.Command, func(st map[string]serverStats) bool { return settled(st, busy) }); err != nil {
			return fmt.Errorf("before request %d of %d: haproxy never showed %s alone busy (one connection) and the other servers idle: %w", i+1, busyRequests, busy, err)
		}
		one, err := requests.request(ctx)
		if err != nil {
			return err
		}
		for name, n := range one {
			seen[name] += n
		}
	}
	after, err = stats.read(ctx)
	if err != nil {
		return err
	}
	if seen[busy] > 0 {
		return fmt.Errorf("while %s was busy with a slow request and the other servers idle, %d of %d requests still went to it (expected 0; is `balance leastconn` set?): %v",
			busy, seen[busy], busyRequests, seen)
	}
	return checkCounters(seen, before, after, busy)
}

// onEach runs cmd on every node at once.
func onEach(ctx context.Context, env *verify.Env, nodes []topology.Node, cmd string) error {
	errs := make(chan error, len(nodes))
	for _, n := range nodes {
		go func() {
			c, err := checks.Root(env, n)
			if err == nil {
				_, err = checks.Run(ctx, env, c, cmd)
			}
			errs <- err
		}()
	}
	var all []error
	for range nodes {
		all = append(all, <-errs)
	}
	return errors.Join(all...)
}

// loadBalancerURL is curl's arguments for path on the load balancer, by its
// FQDN but without asking the client's resolver (the hosts check covers that).
func loadBalancerURL(lb topology.Node, path string) string {
	return fmt.Sprintf("--resolve %s:80:%s http://%s/%s", lb.FQDN, lb.IP, lb.FQDN, path)
}

// requestPages sends n sequential requests from the client node to the load
// balancer and counts the pages by the web node they name; a request that
// fails or returns any other page (haproxy's 503, curl's error) fails the
// count, quoted. One curl makes them all, a new connection each (as n curls
// would), because a process start is what costs most under emulation.
func requestPages(ctx context.Context, env *verify.Env, lb topology.Node, n int) (map[string]int, error) {
	out, err := checks.Run(ctx, env, env.FromClient(), curlPages(env, lb, n))
	if err != nil {
		return nil, err
	}
	return countPages(env.Topology, out, n)
}

// curlPages is one curl for n sequential requests to the load balancer,
// each page followed by curl's error message and a separator line.
func curlPages(env *verify.Env, lb topology.Node, n int) string {
	urls := strings.Repeat(fmt.Sprintf(" http://%s/", lb.FQDN), n)
	return fmt.Sprintf("curl -s -H 'Connection: close' --max-time %d --resolve %s:80:%s -w '\n%%{errormsg}\n%s\n'%s",
		int(env.Intervals.Command.Seconds()), lb.FQDN, lb.IP, checks.Separator, urls)
}

// pageRequester sends single requests from the client node to the load
// balancer, each when asked, through one shell there: a session per request
// costs the client node a shell start on top of its curl.
type pageRequester struct {
	*responder
	topo *topology.Topology
}

// startPageRequester starts the shell; the caller closes it.
func startPageRequester(ctx context.Context, env *verify.Env, lb topology.Node) (*pageRequester, error) {
	r, err := startResponder(ctx, env, env.FromClient(), "the request loop on "+env.Client.Name, pageRequestLoop(env, lb), checks.Separator)
	if err != nil {
		return nil, err
	}
	return &pageRequester{responder: r, topo: env.Topology}, nil
}

// pageRequestLoop runs one curl of one request per line on stdin.
func pageRequestLoop(env *verify.Env, lb topology.Node) string {
	return "while read -r _; do " + curlPages(env, lb, 1) + "; done"
}

// request sends one request and counts its page by the web node it names.
func (p *pageRequester) request(ctx context.Context) (map[string]int, error) {
	out, err := p.ask(ctx)
	if err != nil {
		return nil, err
	}
	return countPages(p.topo, out+checks.Separator+"\n", 1) // ask kept the separator line back
}

// countPages reads curl's output for n requests, each ended by checks.Separator.
func countPages(topo *topology.Topology, out string, n int) (map[string]int, error) {
	pages := strings.Split(out, checks.Separator+"\n")
	if len(pages) != n+1 {
		return nil, fmt.Errorf("%d of %d requests to the load balancer gave an answer: %q", len(pages)-1, n, out)
	}
	seen := map[string]int{}
	for i, page := range pages[:n] {
		owner := pageOwner(topo, page)
		if owner == "" {
			return nil, fmt.Errorf("request %d of %d to the load balancer returned no web node's page: %q", i+1, n, strings.TrimSpace(page))
		}
		seen[owner]++
	}
	return seen, nil
}

// waitForBusyServer polls haproxy until one server carries a connection.
func waitForBusyServer(ctx context.Context, env *verify.Env, r *statsReader) (string, error) {
	busy := func(stats map[string]serverStats) string {
		for _, node := range slices.Sorted(maps.Keys(stats)) {
			if stats[node].Current > 0 {
				return node
			}
		}
		return ""
	}
	stats, err := waitForStats(ctx, env, r, env.Intervals.Command, func(stats map[string]serverStats) bool { return busy(stats) != "" })
	if err != nil {
		return "", fmt.Errorf("the slow request never showed as a current connection in haproxy's stats: %w", err)
	}
	return busy(stats), nil
}

// settled says haproxy shows busy holding exactly the slow stream and every
// other server no connection.
func settled(stats map[string]serverStats, busy string) bool {
	for node, st := range stats {
		if want := map[bool]int{true: 1, false: 0}[node == busy]; st.Current != want {
			return false
		}
	}
	return stats[busy].Current == 1
}

func checkSplit(webs []topology.Node, seen map[string]int, n int) error {
	even := n / len(webs)
	for _, w := range webs {
		if d := seen[w.Name] - even; d > splitTolerance || d < -splitTolerance {
			return fmt.Errorf("%d requests split %v; expected %d±%d per web node, %s got %d", n, seen, even, splitTolerance, w.Name, seen[w.Name])
		}
	}
	return nil
}

// checkCounters wants haproxy's per-server session totals to have grown by
// exactly what the client saw, plus one for the slow request on busy.
func checkCounters(seen map[string]int, before, after map[string]serverStats, busy string) error {
	var bad []string
	for _, node := range slices.Sorted(maps.Keys(after)) {
		want := seen[node]
		if node == busy {
			want++
		}
		if got := after[node].Total - before[node].Total; got != want {
			bad = append(bad, fmt.Sprintf("haproxy counted %d sessions on %s, the client saw %d (before %d, after %d)",
				got, node, want, before[node].Total, after[node].Total))
		}
	}
	if bad != nil {
		return errors.New(strings.Join(bad, "; "))
	}
	return nil
}
