package cloudconfig

import (
	"context"
	"fmt"
	"strings"

	"github.com/drivelab/drivelab/framework/topology"
	"github.com/drivelab/drivelab/framework/verify"
	"github.com/drivelab/drivelab/scenarios/checks"
)

// WriteFiles: write_files put app.conf in place once users_groups had made
// its owner (defer: true): owner deploy:appdata, mode 0640, the content
// byte for byte.
func WriteFiles(ctx context.Context, env *verify.Env, node topology.Node) error {
	stat, content, err := statAndRead(ctx, env, node, appConfPath, appConfPath)
	if err != nil {
		return err
	}
	return checkWriteFiles(node, stat, content)
}

// statAndRead returns, from one session on node, statCmd's output for
// statPath and the content of readPath (or cat's complaint).
func statAndRead(ctx context.Context, env *verify.Env, node topology.Node, statPath, readPath string) (stat, content string, err error) {
	c, err := checks.Root(env, node)
	if err != nil {
		return "", "", err
	}
	f, err := checks.Facts(ctx, env, c, statCmd(statPath), "cat "+readPath)
	if err != nil {
		return "", "", err
	}
	return f[0], f[1], nil
}

// statCmd prints "owner:group mode type" of path.
func statCmd(path string) string { return "stat -c '%U:%G %a %F' " + path }

func checkWriteFiles(node topology.Node, stat, content string) error {
	if err := checkStat(appConfPath, stat, appConfOwner, appConfMode, "regular file"); err != nil {
		return err
	}
	if want := appConf(node); content != want {
		return fmt.Errorf("%s differs from write_files' content: %s", appConfPath, checks.LineDiff([]byte(want), []byte(content)))
	}
	return nil
}

// checkStat compares statCmd's output with the owner, mode and type wanted.
func checkStat(path, stat, owner, mode, kind string) error {
	stat = strings.TrimSpace(stat)
	if strings.Contains(stat, "No such file") {
		return fmt.Errorf("%s is missing (%s)", path, stat)
	}
	if want := owner + " " + mode + " " + kind; stat != want {
		return fmt.Errorf("%s: expected %q (owner, mode, type), actual %q", path, want, stat)
	}
	return nil
}
