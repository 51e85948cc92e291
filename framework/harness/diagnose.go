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
	"github.com/drivelab/drivelab/framework/topology"
	"github.com/drivelab/drivelab/framework/verify"
)

// nodeDiagnostics are read from every node after a failure; each lands in
// artifacts/<run>/<node>/<file>.
var nodeDiagnostics = []diagnostic{
	{"cloud-init-status.txt", "cloud-init status --long"},
	{"cloud-init.log", "cat /var/log/cloud-init.log"},
	{"cloud-init-output.log", "cat /var/log/cloud-init-output.log"},
	{"failed-units.txt", "systemctl --failed --no-pager"},
	{"network.txt", "ip addr; ip route; cat /etc/hosts"},
	{"journal.txt", "journalctl -b --no-pager -o short-monotonic 2>/dev/null | tail -n 400"},
}

// diagnostic is one file of a node's diagnostics and the command that fills it.
type diagnostic struct{ file, cmd string }

// diagnostics are what Diagnose reads from node: the harness's own, then
// the scenario's (UpInput.Diagnostics) that have something to read there.
func diagnostics(env *verify.Env, node topology.Node, extra []verify.Diagnostic) []diagnostic {
	out := append([]diagnostic(nil), nodeDiagnostics...)
	for _, d := range extra {
		if cmd := d.Command(env, node); cmd != "" {
			out = append(out, diagnostic{d.File, cmd})
		}
	}
	return out
}

// diagnose writes what explains a failure into the run's artifacts folder:
// per-node cloud-init logs and status, network state, failed units and the
// journal, and the scenario's own diagnostics. Consoles are there already.
// Problems reaching a node are written down, not returned: diagnostics
// never mask the failure that asked for them.
func (r *Run) diagnose(ctx context.Context) {
	var wg sync.WaitGroup
	for name, c := range r.sessions {
		node, _ := r.Env.Topology.Node(name)
		cmds := diagnostics(r.Env, node, r.in.Diagnostics)
		wg.Go(func() { diagnoseNode(ctx, filepath.Join(r.ArtifactsDir, name), c, cmds, r.in.Intervals.Command) })
	}
	wg.Wait()
}

func diagnoseNode(ctx context.Context, dir string, c *sshx.Client, cmds []diagnostic, limit time.Duration) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return
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
