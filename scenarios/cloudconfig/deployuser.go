package cloudconfig

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"strings"

	"golang.org/x/crypto/ssh"

	"github.com/drivelab/drivelab/framework/sshx"
	"github.com/drivelab/drivelab/framework/topology"
	"github.com/drivelab/drivelab/framework/verify"
	"github.com/drivelab/drivelab/scenarios/checks"
)

// DeployUser: users_groups made deploy (home /home/deploy, shell /bin/bash,
// in group appdata, password locked) and gave it the key; from the client
// node deploy logs in with that key and reads app.conf through its group,
// and the same key is refused for root.
func DeployUser(ctx context.Context, env *verify.Env, node topology.Node) error {
	c, err := checks.Root(env, node)
	if err != nil {
		return err
	}
	f, err := checks.Facts(ctx, env, c, "getent passwd "+deployUser, "id -nG "+deployUser, "passwd -S "+deployUser)
	if err != nil {
		return err
	}
	if err := checkDeployAccount(f[0], f[1], f[2]); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, env.Intervals.Command)
	defer cancel()
	// Both logins at once: sshd delays a refusal.
	asRoot := make(chan error, 1)
	go func() { asRoot <- deployKeyRefusedForRoot(ctx, env, node) }()
	err = deployLogin(ctx, env, node)
	return errors.Join(err, <-asRoot)
}

// checkDeployAccount reads `getent passwd`, `id -nG` and `passwd -S` of deploy.
func checkDeployAccount(passwd, groups, status string) error {
	f := strings.Split(strings.TrimSpace(passwd), ":")
	if len(f) != 7 || f[0] != deployUser {
		return fmt.Errorf("user %s does not exist (getent passwd: %q)", deployUser, strings.TrimSpace(passwd))
	}
	if home, shell := f[5], f[6]; home != "/home/"+deployUser || shell != "/bin/bash" {
		return fmt.Errorf("user %s: expected home /home/%s and shell /bin/bash, actual %s and %s", deployUser, deployUser, home, shell)
	}
	if g := strings.Fields(groups); !slices.Contains(g, appGroup) {
		return fmt.Errorf("user %s: expected to be in group %s, actual groups %q", deployUser, appGroup, strings.TrimSpace(groups))
	}
	// passwd -S: "deploy L 12/02/2026 0 99999 7 -1"; L is locked.
	if s := strings.Fields(status); len(s) < 2 || s[1] != "L" {
		return fmt.Errorf("user %s: expected a locked password (lock_passwd), passwd -S says %q", deployUser, strings.TrimSpace(status))
	}
	return nil
}

// deployLogin logs in as deploy with its key from the client node and
// reads app.conf, which only the owner and group appdata may.
func deployLogin(ctx context.Context, env *verify.Env, node topology.Node) error {
	c, err := env.FromClient().Jump(ctx, deployTarget(env, node, deployUser))
	if err != nil {
		if errors.Is(err, sshx.ErrAuth) {
			return fmt.Errorf("%s's key was refused from %s: users_groups did not install it", deployUser, env.Client.Name)
		}
		return err
	}
	defer c.Close()
	out, err := c.Output(ctx, "id -un && cat "+appConfPath)
	if err != nil {
		return fmt.Errorf("as %s: %w", deployUser, err)
	}
	return checkDeploySession(node, out)
}

func checkDeploySession(node topology.Node, out string) error {
	user, content, _ := strings.Cut(out, "\n")
	if user != deployUser {
		return fmt.Errorf("logged in with %s's key: expected user %s, actual %q", deployUser, deployUser, user)
	}
	if want := appConf(node); content != want {
		return fmt.Errorf("as %s, %s reads differently: %s", deployUser, appConfPath, checks.LineDiff([]byte(want), []byte(content)))
	}
	return nil
}

// deployKeyRefusedForRoot wants deploy's key to open no root session: a
// top-level ssh_authorized_keys would have given it to root as well.
func deployKeyRefusedForRoot(ctx context.Context, env *verify.Env, node topology.Node) error {
	c, err := env.FromClient().Jump(ctx, deployTarget(env, node, "root"))
	switch {
	case err == nil:
		c.Close()
		return fmt.Errorf("%s's key logs in as root; it belongs under users, not top-level ssh_authorized_keys", deployUser)
	case !errors.Is(err, sshx.ErrAuth):
		return fmt.Errorf("root login with %s's key: expected a refusal, actual: %w", deployUser, err)
	}
	return nil
}

// deployTarget is node as user, with deploy's key and the pinned host key.
func deployTarget(env *verify.Env, node topology.Node, user string) sshx.Target {
	return sshx.Target{
		Name:    node.Name,
		Addr:    node.IP.String() + ":22",
		User:    user,
		Auth:    []ssh.AuthMethod{ssh.PublicKeys(deployKey())},
		HostKey: env.HostKeys[node.Name],
	}
}

// deployKey is deploy's key pair; user_data.app.tmpl carries its public
// half. It is derived from a fixed seed rather than kept as a key file:
// public by construction, it opens only this scenario's throwaway guests
// on the lab's own bridge.
func deployKey() ssh.Signer {
	seed := sha256.Sum256([]byte("drivelab cloudconfig scenario: the deploy user's key"))
	s, err := ssh.NewSignerFromKey(ed25519.NewKeyFromSeed(seed[:]))
	if err != nil {
		panic(err) // an ed25519 key is always a valid signer
	}
	return s
}
