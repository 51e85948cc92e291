package harness

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
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
// and one to every other node through the node it is reached by
// (topology.Hops: the client, on one network), retrying each until the SSH
// interval runs out (sshd may restart while cloud-init finishes). Nodes
// one hop further wait for the sessions they go through.
func Connect(ctx context.Context, in ConnectInput) (map[string]*sshx.Client, error) {
	auth := []ssh.AuthMethod{ssh.PublicKeys(in.Access.Client.Signer)}
	hops, err := in.Topology.Hops()
	if err != nil {
		return nil, err
	}
	target := func(n topology.Node, addr netip.Addr) sshx.Target {
		return sshx.Target{Name: n.Name, Addr: netip.AddrPortFrom(addr, 22).String(), User: "root", Auth: auth, HostKey: in.Access.Hosts[n.Name].PublicKey()}
	}
	client, err := retry(ctx, in.Intervals, in.Client.Name, func(ctx context.Context) (*sshx.Client, error) {
		addr, ok := in.Topology.LabAddr(in.Client)
		if !ok {
			addr = in.Client.IP
		}
		return sshx.Dial(ctx, in.Dial, target(in.Client, addr))
	})
	if err != nil {
		return nil, err
	}
	sessions := map[string]*sshx.Client{in.Client.Name: client}
	var (
		mu   sync.Mutex
		errs []error
	)
	type jump struct {
		n   topology.Node
		via *sshx.Client
		at  netip.Addr
	}
	for len(errs) == 0 && len(sessions) < len(in.Topology.Nodes) {
		var next []jump
		for _, n := range in.Topology.Nodes {
			h := hops[n.Name]
			if via, ok := sessions[h.Via]; ok && sessions[n.Name] == nil {
				next = append(next, jump{n, via, h.Addr})
			}
		}
		if len(next) == 0 {
			errs = append(errs, fmt.Errorf("%s: no way to reach the nodes left from the client %s", in.Topology.Path, in.Client.Name))
			break
		}
		var wg sync.WaitGroup
		for _, j := range next {
			wg.Go(func() {
				c, err := retry(ctx, in.Intervals, j.n.Name, func(ctx context.Context) (*sshx.Client, error) {
					return j.via.Jump(ctx, target(j.n, j.at))
				})
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					errs = append(errs, err)
					return
				}
				sessions[j.n.Name] = c
			})
		}
		wg.Wait()
	}
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
