package scenarios

import (
	"context"
	"errors"
	"fmt"

	"github.com/drivelab/drivelab/framework/sshx"
	"github.com/drivelab/drivelab/framework/topology"
	"github.com/drivelab/drivelab/framework/verify"
)

// Password: from the client node, root logs in to the node with the
// topology's password, and a wrong password is refused. Messages never carry
// a password.
func Password(ctx context.Context, env *verify.Env, node topology.Node) error {
	ctx, cancel := context.WithTimeout(ctx, env.Intervals.Command)
	defer cancel()
	// Both logins at once: sshd delays a refusal by about two seconds.
	wrong := make(chan error, 1)
	go func() { wrong <- refused(ctx, env, node) }()
	err := accepted(ctx, env, node)
	return errors.Join(err, <-wrong)
}

// accepted wants the topology's password to give a usable root session.
func accepted(ctx context.Context, env *verify.Env, node topology.Node) error {
	c, err := env.LoginWithPassword(ctx, node, node.Password)
	if err != nil {
		if errors.Is(err, sshx.ErrAuth) {
			return fmt.Errorf("root login from %s with the topology's password was refused", env.Client.Name)
		}
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

// refused wants a wrong password to be refused.
func refused(ctx context.Context, env *verify.Env, node topology.Node) error {
	c, err := env.LoginWithPassword(ctx, node, "not-"+node.Password)
	switch {
	case err == nil:
		c.Close()
		return fmt.Errorf("root login with a wrong password was accepted")
	case !errors.Is(err, sshx.ErrAuth):
		return fmt.Errorf("login with a wrong password: expected a refusal, actual: %w", err)
	}
	return nil
}
