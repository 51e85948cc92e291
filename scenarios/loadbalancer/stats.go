package loadbalancer

import (
	"context"
	_ "embed"
	"encoding/csv"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/drivelab/drivelab/framework/sshx"
	"github.com/drivelab/drivelab/framework/topology"
	"github.com/drivelab/drivelab/framework/verify"
	"github.com/drivelab/drivelab/framework/wait"
	"github.com/drivelab/drivelab/scenarios/checks"
)

// statsSource is where a check reads haproxy's stats and whose they are.
type statsSource struct {
	// Socket is the stats socket haproxy keeps.
	Socket string
	// Nodes maps a backend server name to the node it points at.
	Nodes map[string]string
}

// statsSourceOf matches servers to nodes by FQDN, short name or IP.
func statsSourceOf(hc haproxyConfig, topo *topology.Topology) (statsSource, error) {
	src := statsSource{Nodes: map[string]string{}}
	if sockets := hc.socketPaths(); len(sockets) > 0 {
		src.Socket = sockets[len(sockets)-1]
	}
	for _, srv := range hc.servers() {
		host, _, _ := strings.Cut(srv.Addr, ":")
		n, ok := nodeByAddress(topo.Nodes, host)
		if !ok {
			return src, fmt.Errorf("haproxy.cfg: server %s points at %s, which is no node of the topology", srv.Name, srv.Addr)
		}
		src.Nodes[srv.Name] = n.Name
	}
	if src.Socket == "" {
		return src, fmt.Errorf("haproxy.cfg has no `stats socket`; the harness reads per-server counters from it")
	}
	return src, nil
}

func nodeByAddress(nodes []topology.Node, host string) (topology.Node, bool) {
	for _, n := range nodes {
		if host == n.FQDN || host == n.ShortName() || host == n.IP.String() {
			return n, true
		}
	}
	return topology.Node{}, false
}

// serverStats are one backend server's counters from `show stat`.
type serverStats struct {
	Current, Total int // scur and stot
	// Status is haproxy's view of the server: "UP", "DOWN", "UP 1/2" (failing
	// checks, still in rotation), "no check" (no health checks), ...
	Status string
}

// pythonPath is the path of python3 or python2, whichever the guest has
// (CentOS 7 has only python2); haproxy_stats.py runs under both.
const pythonPath = "$(command -v python3 || command -v python)"

// statsProgram prints haproxy's `show stat` CSV, once or on each line of
// its stdin.
//
//go:embed haproxy_stats.py
var statsProgram string

// statsCommand prints haproxy's `show stat` CSV from socket once, for the
// diagnostics.
func statsCommand(socket string) string {
	return pythonPath + " -c " + checks.ShellQuote(statsProgram) + " " + checks.ShellQuote(socket)
}

// statsEnd ends each answer of statsServerCommand.
const statsEnd = "--drivelab-stats-end--"

// statsReader reads haproxy's stats for one check through one
// statsServerCommand on the load balancer: a check reads a dozen times or
// more, and a session and a python start per read were most of what it
// cost the guest.
type statsReader struct {
	*responder
	src statsSource
}

// statsServerCommand answers each line on stdin with `show stat` from
// socket, or with "error: " and why it could not read it, and then statsEnd.
func statsServerCommand(socket string) string {
	return "exec " + pythonPath + " -c " + checks.ShellQuote(statsProgram) + " " + checks.ShellQuote(socket) + " " + statsEnd
}

// startStatsReader starts a reader on lb; the caller closes it.
func startStatsReader(ctx context.Context, env *verify.Env, lb *sshx.Client, src statsSource) (*statsReader, error) {
	r, err := startResponder(ctx, env, lb, "the haproxy stats reader", statsServerCommand(src.Socket), statsEnd)
	if err != nil {
		return nil, err
	}
	return &statsReader{responder: r, src: src}, nil
}

// read returns the counters of every backend server, by node name.
func (r *statsReader) read(ctx context.Context) (map[string]serverStats, error) {
	out, err := r.ask(ctx)
	if err != nil {
		return nil, err
	}
	if msg, failed := strings.CutPrefix(out, "error: "); failed {
		return nil, fmt.Errorf("reading haproxy stats from %s: %s", r.src.Socket, strings.TrimSpace(msg))
	}
	return parseStats(out, r.src)
}

// parseStats reads haproxy's `show stat` CSV.
func parseStats(out string, src statsSource) (map[string]serverStats, error) {
	r := csv.NewReader(strings.NewReader(strings.TrimPrefix(out, "# ")))
	r.FieldsPerRecord = -1
	rows, err := r.ReadAll()
	if err != nil || len(rows) == 0 {
		return nil, fmt.Errorf("haproxy stats are not CSV: %v", err)
	}
	col := map[string]int{}
	for i, name := range rows[0] {
		col[name] = i
	}
	for _, name := range []string{"svname", "scur", "stot", "status"} {
		if _, ok := col[name]; !ok {
			return nil, fmt.Errorf("haproxy stats lack the %s column", name)
		}
	}
	stats := map[string]serverStats{}
	for _, row := range rows[1:] {
		node, ok := src.Nodes[row[col["svname"]]]
		if !ok {
			continue // FRONTEND, BACKEND and servers of no node
		}
		cur, err1 := strconv.Atoi(row[col["scur"]])
		tot, err2 := strconv.Atoi(row[col["stot"]])
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("haproxy stats: bad counters for %s: %v", node, row)
		}
		s := stats[node]
		status := row[col["status"]]
		if s.Status != "" && s.Status != status {
			status = s.Status + "," + status // the node serves in several backends
		}
		stats[node] = serverStats{Current: s.Current + cur, Total: s.Total + tot, Status: status}
	}
	return stats, nil
}

// waitForStats reads haproxy's stats every Poll interval until done accepts
// them or limit has passed; it returns the last stats it read.
func waitForStats(ctx context.Context, env *verify.Env, r *statsReader, limit time.Duration, done func(map[string]serverStats) bool) (map[string]serverStats, error) {
	var last map[string]serverStats
	in := wait.Input{What: "haproxy's stats", Interval: env.Intervals.Poll, Timeout: limit}
	err := wait.Until(ctx, in, func(ctx context.Context) (bool, string, error) {
		stats, err := r.read(ctx)
		switch {
		case err == nil:
			last = stats
			return done(stats), describeStats(stats), nil
		case r.ended != nil && ctx.Err() == nil:
			return false, "", err // no later read can succeed
		case last != nil:
			// A read the deadline cut short says nothing once one succeeded.
			return false, describeStats(last), nil
		}
		return false, "reading them: " + err.Error(), nil
	})
	return last, err
}

// describeStats says what haproxy showed, server by server, for errors.
func describeStats(stats map[string]serverStats) string {
	var parts []string
	for _, node := range slices.Sorted(maps.Keys(stats)) {
		st := stats[node]
		parts = append(parts, fmt.Sprintf("%s %s (%d current, %d total)", node, st.Status, st.Current, st.Total))
	}
	return strings.Join(parts, ", ")
}
