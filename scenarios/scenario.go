// Package scenarios holds what the harness verifies: each check is one
// function in its own file, over a topology and SSH sessions from the client
// node; each scenario is one file naming its topology, templates and checks.
package scenarios

import (
	"context"
	"fmt"
	"strings"

	"github.com/drivelab/drivelab/framework/sshx"
	"github.com/drivelab/drivelab/framework/topology"
	"github.com/drivelab/drivelab/framework/verify"
)

// run executes cmd on c within the Command interval and returns stdout.
func run(ctx context.Context, env *verify.Env, c *sshx.Client, cmd string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, env.Intervals.Command)
	defer cancel()
	return c.Output(ctx, cmd)
}

// facts runs cmds in one session (one session costs more than a small
// command under emulation) and returns each one's output, stdout and stderr
// together; a failing command leaves its message as its output.
func facts(ctx context.Context, env *verify.Env, c *sshx.Client, cmds ...string) ([]string, error) {
	script := "{ " + strings.Join(cmds, "; } 2>&1; echo; echo "+sep+"; { ") + "; } 2>&1; true"
	out, err := run(ctx, env, c, script)
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
	parts := strings.Split(out, "\n"+sep+"\n")
	if len(parts) != n {
		return nil, fmt.Errorf("expected the output of %d commands, actual %q", n, out)
	}
	return parts, nil
}

// root returns the root session on node or an error saying it is missing.
func root(env *verify.Env, node topology.Node) (*sshx.Client, error) {
	c, ok := env.Root[node.Name]
	if !ok {
		return nil, fmt.Errorf("no SSH session to %s", node.Name)
	}
	return c, nil
}

// shellQuote quotes s for a POSIX shell.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
