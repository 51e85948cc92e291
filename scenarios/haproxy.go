package scenarios

import (
	"context"
	"encoding/csv"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/drivelab/drivelab/framework/sshx"
	"github.com/drivelab/drivelab/framework/topology"
	"github.com/drivelab/drivelab/framework/verify"
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

// statsScript reads `show stat` from the socket in argv[1]; it runs under
// python3 or python2, whichever the guest has (see statsCommand).
const statsScript = `import socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall(b"show stat\n")
out = b""
while True:
    chunk = s.recv(65536)
    if not chunk:
        break
    out += chunk
sys.stdout.write(out.decode())
`

// statsCommand prints haproxy's `show stat` CSV from socket: the checks
// parse it, the diagnostics keep it.
func statsCommand(socket string) string {
	return "$(command -v python3 || command -v python) -c " + shellQuote(statsScript) + " " + shellQuote(socket)
}

// readStats returns the counters of every backend server, by node name.
func readStats(ctx context.Context, env *verify.Env, lb *sshx.Client, hc haproxyConfig) (map[string]serverStats, error) {
	ctx, cancel := context.WithTimeout(ctx, env.Intervals.Command)
	defer cancel()
	res, err := lb.Run(ctx, statsCommand(hc.StatsSocket))
	if err != nil {
		return nil, err
	}
	if res.ExitCode != 0 {
		return nil, fmt.Errorf("reading haproxy stats from %s: %s", hc.StatsSocket, strings.TrimSpace(res.Stderr))
	}
	return parseStats(res.Stdout, hc)
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
func waitForStats(ctx context.Context, env *verify.Env, lb *sshx.Client, hc haproxyConfig, limit time.Duration, done func(map[string]serverStats) bool) (map[string]serverStats, error) {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	tick := time.NewTicker(env.Intervals.Poll)
	defer tick.Stop()
	var last map[string]serverStats
	for {
		stats, err := readStats(ctx, env, lb, hc)
		if err == nil {
			last = stats
			if done(stats) {
				return stats, nil
			}
		}
		select {
		case <-ctx.Done():
			// A read the deadline cut short says nothing once one succeeded.
			if last == nil && err != nil {
				return last, fmt.Errorf("gave up after %s (last error: %w)", limit, err)
			}
			return last, fmt.Errorf("gave up after %s", limit)
		case <-tick.C:
		}
	}
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
