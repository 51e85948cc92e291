package harness

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/drivelab/drivelab/framework/sshx"
)

// nodeDiagnostics are read from every node after a failure; each lands in
// artifacts/<run>/<node>/<file>.
var nodeDiagnostics = []struct{ file, cmd string }{
	{"cloud-init-status.txt", "cloud-init status --long"},
	{"cloud-init.log", "cat /var/log/cloud-init.log"},
	{"cloud-init-output.log", "cat /var/log/cloud-init-output.log"},
	{"network.txt", "ip addr; ip route; cat /etc/hosts"},
	{"services.txt", "ps -eo pid,args | grep -E 'haproxy|apache2|httpd' | grep -v grep; ss -ltnp"},
	{"journal.txt", "journalctl -b --no-pager -o short-monotonic 2>/dev/null | tail -n 400"},
}

// haproxyConfigs are where the flavors' user_data put haproxy's config.
var haproxyConfigs = []string{"/etc/haproxy/haproxy.cfg", "/tmp/haproxy.cfg"}

// haproxyStats dumps `show stat` from every stats socket the configs name.
// cat, not awk, opens the files: awk gives up at the first missing one.
func haproxyStats(configs []string) string {
	return `for s in $(cat ` + strings.Join(configs, " ") + ` 2>/dev/null | awk '$1=="stats" && $2=="socket" {print $3}' | sort -u); do
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
		wg.Go(func() { diagnoseNode(ctx, filepath.Join(l.ArtifactsDir, name), c, l.in.Intervals.Command) })
	}
	wg.Wait()
	return l.saveDrives()
}

func diagnoseNode(ctx context.Context, dir string, c *sshx.Client, limit time.Duration) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return
	}
	cmds := append(nodeDiagnostics, struct{ file, cmd string }{"haproxy-stats.txt", haproxyStats(haproxyConfigs)})
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
