package harness

import (
	"context"
	"errors"
	"sync"

	"golang.org/x/crypto/ssh"

	"github.com/drivelab/drivelab/framework/config"
	"github.com/drivelab/drivelab/framework/sshx"
	"github.com/drivelab/drivelab/framework/topology"
	"github.com/drivelab/drivelab/framework/wait"
)

// ConnectInput says how to reach the nodes.
type ConnectInput struct {
	Topology *topology.Topology
	// Client is the node every other session goes through.
	Client    topology.Node
	Dial      sshx.DialFunc
	Access    *Access
	Intervals config.Intervals
}

// Connect opens a root session to the client node through the lab dialer
// and one to every other node through the client, retrying each until the
// SSH interval runs out (sshd may restart while cloud-init finishes).
func Connect(ctx context.Context, in ConnectInput) (map[string]*sshx.Client, error) {
	auth := []ssh.AuthMethod{ssh.PublicKeys(in.Access.Client.Signer)}
	target := func(n topology.Node) sshx.Target {
		return sshx.Target{Name: n.Name, Addr: n.IP.String() + ":22", User: "root", Auth: auth, HostKey: in.Access.Hosts[n.Name].PublicKey()}
	}
	client, err := retry(ctx, in.Intervals, in.Client.Name, func(ctx context.Context) (*sshx.Client, error) {
		return sshx.Dial(ctx, in.Dial, target(in.Client))
	})
	if err != nil {
		return nil, err
	}
	sessions := map[string]*sshx.Client{in.Client.Name: client}
	var (
		mu   sync.Mutex
		wg   sync.WaitGroup
		errs []error
	)
	for _, n := range in.Topology.Nodes {
		if n.Name == in.Client.Name {
			continue
		}
		wg.Go(func() {
			c, err := retry(ctx, in.Intervals, n.Name, func(ctx context.Context) (*sshx.Client, error) {
				return client.Jump(ctx, target(n))
			})
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
				return
			}
			sessions[n.Name] = c
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		CloseAll(sessions)
		return nil, err
	}
	return sessions, nil
}

// CloseAll closes every session.
func CloseAll(sessions map[string]*sshx.Client) {
	for _, c := range sessions {
		c.Close()
	}
}

// retry calls dial every Poll interval until it succeeds or the SSH interval
// ends; a refused host key is final, since retrying cannot fix it.
func retry(ctx context.Context, iv config.Intervals, node string, dial func(context.Context) (*sshx.Client, error)) (*sshx.Client, error) {
	var c *sshx.Client
	in := wait.Input{What: "root's SSH login on " + node + " (the SSH interval)", Interval: iv.Poll, Timeout: iv.SSH}
	err := wait.Until(ctx, in, func(ctx context.Context) (bool, string, error) {
		attempt, stop := context.WithTimeout(ctx, iv.Command)
		defer stop()
		var err error
		c, err = dial(attempt)
		switch {
		case err == nil:
			return true, "", nil
		case errors.Is(err, sshx.ErrHostKey):
			return false, "", err
		}
		return false, err.Error(), nil
	})
	return c, err
}
