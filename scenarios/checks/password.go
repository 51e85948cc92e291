package checks

import (
	"context"
	"errors"
	"fmt"

	"github.com/drivelab/drivelab/framework/sshx"
	"github.com/drivelab/drivelab/framework/topology"
	"github.com/drivelab/drivelab/framework/verify"
)

// Password: from the client node, a wrong password is refused for root and
// the topology's password then logs root in, on one connection (one sshd
// start, seconds under emulation). sshd reports the login only after PAM's
// account check, so no session follows: the other checks' root sessions
// show that root gets a shell. Messages never carry a password.
func Password(ctx context.Context, env *verify.Env, node topology.Node) error {
	ctx, cancel := context.WithTimeout(ctx, env.Intervals.Command)
	defer cancel()
	c, err := env.LoginWithPassword(ctx, node, node.Password)
	switch {
	case errors.Is(err, sshx.ErrWrongPassword):
		return fmt.Errorf("root login from %s: %w", env.Client.Name, err)
	case errors.Is(err, sshx.ErrAuth):
		return fmt.Errorf("root login from %s with the topology's password was refused", env.Client.Name)
	case err != nil:
		return err
	}
	c.Close() // the login was the check; how its connection ends is not
	return nil
}
