package harness

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/drivelab/drivelab/framework/sshx"
	"github.com/drivelab/drivelab/framework/verify"
)

// nodeDiagnostics are read from every node after a failure; each lands in
// artifacts/<run>/<node>/<file>.
var nodeDiagnostics = []struct{ file, cmd string }{
	{"cloud-init-status.txt", "cloud-init status --long"},
	{"cloud-init.log", "cat /var/log/cloud-init.log"},
	{"cloud-init-output.log", "cat /var/log/cloud-init-output.log"},
	{"failed-units.txt", "systemctl --failed --no-pager"},
	{"network.txt", "ip addr; ip route; cat /etc/hosts"},
	{"services.txt", "ps -eo pid,args | grep -E 'haproxy|apache2|httpd' | grep -v grep; ss -ltnp"},
	{"journal.txt", "journalctl -b --no-pager -o short-monotonic 2>/dev/null | tail -n 400"},
}

// statsSockets are the haproxy stats sockets the node's drive configured,
// read from the files it carried rather than from guest paths a flavor chose.
func statsSockets(files []verify.File) []string {
	var sockets []string
	for _, f := range files {
		for _, line := range strings.Split(string(f.Data), "\n") {
			if w := strings.Fields(line); len(w) >= 3 && w[0] == "stats" && w[1] == "socket" && !slices.Contains(sockets, w[2]) {
				sockets = append(sockets, w[2])
			}
		}
	}
	return sockets
}

// haproxyStats dumps `show stat` from each socket.
func haproxyStats(sockets []string) string {
	quoted := make([]string, len(sockets))
	for i, s := range sockets {
		quoted[i] = "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
	}
	return `for s in ` + strings.Join(quoted, " ") + `; do
  echo "== $s"; $(command -v python3 || command -v python) -c 'import socket,sys
s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.sendall(b"show stat\n")
while True:
    b=s.recv(65536)
    if not b: break
    sys.stdout.write(b.decode())' "$s"; done`
}

// Diagnose writes what explains a failure into the run's artifacts folder:
// per-node cloud-init logs and status, network and service state, haproxy
// stats, and the rendered drives. Consoles are there already. Problems
// reaching a node are written down, not returned: diagnostics never mask the
// failure that asked for them.
func (l *Lab) Diagnose(ctx context.Context) error {
	var wg sync.WaitGroup
	for name, c := range l.sessions {
		sockets := statsSockets(l.Env.Files[name])
		wg.Go(func() { diagnoseNode(ctx, filepath.Join(l.ArtifactsDir, name), c, sockets, l.in.Intervals.Command) })
	}
	wg.Wait()
	return l.saveDrives()
}

func diagnoseNode(ctx context.Context, dir string, c *sshx.Client, sockets []string, limit time.Duration) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return
	}
	cmds := nodeDiagnostics
	if len(sockets) > 0 {
		cmds = append(slices.Clip(cmds), struct{ file, cmd string }{"haproxy-stats.txt", haproxyStats(sockets)})
	}
	for _, d := range cmds {
		cmdCtx, cancel := context.WithTimeout(ctx, limit)
		res, err := c.Run(cmdCtx, d.cmd)
		cancel()
		out := res.Stdout + res.Stderr
		if err != nil {
			out += fmt.Sprintf("\n[drivelab: %v]\n", err)
		}
		if strings.TrimSpace(out) == "" {
			continue
		}
		_ = os.WriteFile(filepath.Join(dir, d.file), []byte(out), 0o644)
	}
}
