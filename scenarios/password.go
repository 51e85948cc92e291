package scenarios

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
// start, seconds under emulation). Messages never carry a password.
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
	defer c.Close()
	out, err := c.Output(ctx, "id -u")
	if err != nil {
		return err
	}
	if out != "0\n" {
		return fmt.Errorf("password login: expected uid 0, actual %q", out)
	}
	return nil
}
