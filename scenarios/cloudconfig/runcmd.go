package cloudconfig

import (
	"context"
	"fmt"
	"strings"

	"github.com/drivelab/drivelab/framework/topology"
	"github.com/drivelab/drivelab/framework/verify"
)

// Runcmd: runcmd ran, once for this instance: it made /var/lib/app
// (deploy:appdata, 0750) and logged exactly one line naming the instance.
func Runcmd(ctx context.Context, env *verify.Env, node topology.Node) error {
	dir, log, err := statAndRead(ctx, env, node, appDir, runcmdLog)
	if err != nil {
		return err
	}
	return checkRuncmd(node, dir, log)
}

func checkRuncmd(node topology.Node, dirStat, log string) error {
	if err := checkStat(appDir, dirStat, appConfOwner, appDirMode, "directory"); err != nil {
		return fmt.Errorf("runcmd's install -d: %w", err)
	}
	want := runcmdLine(node)
	n := 0
	for _, line := range strings.Split(log, "\n") {
		if strings.TrimSpace(line) == want {
			n++
		}
	}
	switch {
	case n == 0:
		return fmt.Errorf("%s lacks %q: runcmd did not run for this instance (%s holds %q)", runcmdLog, want, runcmdLog, strings.TrimSpace(log))
	case n > 1:
		return fmt.Errorf("%s: runcmd ran %d times for instance %s, expected once", runcmdLog, n, node.UUID)
	}
	return nil
}
