// Package checks holds the checks and lint rules any scenario can use: each
// check is one function in its own file, over a topology and SSH sessions
// from the client node, and knows no scenario. It also holds what the
// scenarios' own checks share: commands run on a node's root session.
package checks

import (
	"context"
	"fmt"
	"strings"

	"github.com/drivelab/drivelab/framework/sshx"
	"github.com/drivelab/drivelab/framework/topology"
	"github.com/drivelab/drivelab/framework/verify"
)

// Separator is a line that separates the outputs of two commands run in one
// session.
const Separator = "--drivelab--"

// Run executes cmd on c within the Command interval and returns stdout.
func Run(ctx context.Context, env *verify.Env, c *sshx.Client, cmd string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, env.Intervals.Command)
	defer cancel()
	return c.Output(ctx, cmd)
}

// Facts runs cmds in one session (one session costs more than a small
// command under emulation) and returns each one's output, stdout and stderr
// together; a failing command leaves its message as its output.
func Facts(ctx context.Context, env *verify.Env, c *sshx.Client, cmds ...string) ([]string, error) {
	script := "{ " + strings.Join(cmds, "; } 2>&1; echo; echo "+Separator+"; { ") + "; } 2>&1; true"
	out, err := Run(ctx, env, c, script)
	if err != nil {
		return nil, err
	}
	parts, err := splitFacts(out, len(cmds))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", c.Name(), err)
	}
	return parts, nil
}

func splitFacts(out string, n int) ([]string, error) {
	parts := strings.Split(out, "\n"+Separator+"\n")
	if len(parts) != n {
		return nil, fmt.Errorf("expected the output of %d commands, actual %q", n, out)
	}
	return parts, nil
}

// Root returns the root session on node or an error saying it is missing.
func Root(env *verify.Env, node topology.Node) (*sshx.Client, error) {
	c, ok := env.Root[node.Name]
	if !ok {
		return nil, fmt.Errorf("no SSH session to %s", node.Name)
	}
	return c, nil
}

// ShellQuote quotes s for a POSIX shell.
func ShellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
