package scenarios

import (
	"context"
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
)

// haproxyConfigFile is the topology's logical name for haproxy.cfg.
const haproxyConfigFile = "haproxy-config"

// haproxyConfig is what the checks need from a haproxy.cfg.
type haproxyConfig struct {
	// StatsSocket is the path of the `stats socket` in `global`.
	StatsSocket string
	// Servers maps a backend server name to the node it points at.
	Servers map[string]string
}

// parseHaproxyConfig reads server lines and the stats socket; servers are
// matched to nodes by FQDN, short name or IP.
func parseHaproxyConfig(cfg []byte, topo *topology.Topology) (haproxyConfig, error) {
	hc := haproxyConfig{Servers: map[string]string{}}
	if sockets := statsSockets(cfg); len(sockets) > 0 {
		hc.StatsSocket = sockets[len(sockets)-1]
	}
	for _, line := range strings.Split(string(cfg), "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) >= 3 && f[0] == "server":
			host, _, _ := strings.Cut(f[2], ":")
			n, ok := nodeByAddress(topo.Nodes, host)
			if !ok {
				return hc, fmt.Errorf("haproxy.cfg: server %s points at %s, which is no node of the topology", f[1], f[2])
			}
			hc.Servers[f[1]] = n.Name
		}
	}
	if hc.StatsSocket == "" {
		return hc, fmt.Errorf("haproxy.cfg has no `stats socket`; the harness reads per-server counters from it")
	}
	return hc, nil
}

// statsSockets are the paths of cfg's `stats socket` lines, each once, in
// order; the last one is the one haproxy keeps.
func statsSockets(cfg []byte) []string {
	var sockets []string
	for _, line := range strings.Split(string(cfg), "\n") {
		if f := strings.Fields(line); len(f) >= 3 && f[0] == "stats" && f[1] == "socket" && !slices.Contains(sockets, f[2]) {
			sockets = append(sockets, f[2])
		}
	}
	return sockets
}

// serverStats are one backend server's counters from `show stat`.
type serverStats struct {
	Current, Total int // scur and stot
	// Status is haproxy's view of the server: "UP", "DOWN", "UP 1/2" (failing
	// checks, still in rotation), "no check" (no health checks), ...
	Status string
}

// pythonPath is the path of python3 or python2, whichever the guest has
// (CentOS 7 has only python2); the stats scripts run under both.
const pythonPath = "$(command -v python3 || command -v python)"

// showStat is a python function returning haproxy's `show stat` CSV from the
// stats socket in argv[1].
const showStat = `import socket, sys
def show_stat():
    s = socket.socket(socket.AF_UNIX)
    try:
        s.connect(sys.argv[1])
        s.sendall(b"show stat\n")
        out = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return out.decode()
            out += chunk
    finally:
        s.close()
`

// statsCommand prints haproxy's `show stat` CSV from socket once, for the
// diagnostics.
func statsCommand(socket string) string {
	return pythonPath + " -c " + shellQuote(showStat+"sys.stdout.write(show_stat())\n") + " " + shellQuote(socket)
}

// statsServer answers each line on stdin with `show stat`, or with "error: "
// and why it could not read it, and then the line argv[2].
const statsServer = showStat + `while sys.stdin.readline():
    try:
        out = show_stat()
    except Exception as e:
        out = "error: %s\n" % e
    sys.stdout.write(out + "\n" + sys.argv[2] + "\n")
    sys.stdout.flush()
`

// statsEnd ends each answer of statsServer.
const statsEnd = "--drivelab-stats-end--"

// statsReader reads haproxy's stats for one check through one statsServer
// on the load balancer: a check reads a dozen times or more, and a session
// and a python start per read were most of what it cost the guest.
type statsReader struct {
	*responder
	hc haproxyConfig
}

// statsServerCommand runs statsServer on the stats socket.
func statsServerCommand(socket string) string {
	return "exec " + pythonPath + " -c " + shellQuote(statsServer) + " " + shellQuote(socket) + " " + statsEnd
}

// startStatsReader starts a reader on lb; the caller closes it.
func startStatsReader(ctx context.Context, env *verify.Env, lb *sshx.Client, hc haproxyConfig) (*statsReader, error) {
	r, err := startResponder(ctx, env, lb, "the haproxy stats reader", statsServerCommand(hc.StatsSocket), statsEnd)
	if err != nil {
		return nil, err
	}
	return &statsReader{responder: r, hc: hc}, nil
}

// read returns the counters of every backend server, by node name.
func (r *statsReader) read(ctx context.Context) (map[string]serverStats, error) {
	out, err := r.ask(ctx)
	if err != nil {
		return nil, err
	}
	if msg, failed := strings.CutPrefix(out, "error: "); failed {
		return nil, fmt.Errorf("reading haproxy stats from %s: %s", r.hc.StatsSocket, strings.TrimSpace(msg))
	}
	return parseStats(out, r.hc)
}

// parseStats reads haproxy's `show stat` CSV.
func parseStats(out string, hc haproxyConfig) (map[string]serverStats, error) {
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
		node, ok := hc.Servers[row[col["svname"]]]
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

// loadBalancer is what a check on the load balancer node starts from: the
// config its drive carried, a root session to it, and at least two web nodes.
func loadBalancer(env *verify.Env, node topology.Node, check string) (haproxyConfig, *sshx.Client, []topology.Node, error) {
	hc, _, err := loadBalancerConfig(env, node)
	if err != nil {
		return hc, nil, nil, err
	}
	lb, err := root(env, node)
	if err != nil {
		return hc, nil, nil, err
	}
	webs := env.Topology.NodesWithRole(RoleWeb)
	if len(webs) < 2 {
		return hc, nil, nil, fmt.Errorf("%s needs at least two web nodes, the topology has %d", check, len(webs))
	}
	return hc, lb, webs, nil
}

// loadBalancerConfig parses the haproxy.cfg the node's drive injected.
func loadBalancerConfig(env *verify.Env, node topology.Node) (haproxyConfig, []byte, error) {
	f, ok := env.File(node.Name, haproxyConfigFile)
	if !ok {
		return haproxyConfig{}, nil, fmt.Errorf("the drive of %s carried no %s", node.Name, haproxyConfigFile)
	}
	hc, err := parseHaproxyConfig(f.Data, env.Topology)
	return hc, f.Data, err
}
