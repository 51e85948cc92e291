package lab

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os/exec"
	"strings"
)

// Shell runs the lab's commands on the machine whose libvirtd runs the
// guests, and dials into the network namespaces there: this machine
// (Local), or a remote host over SSH (framework/remote.Client), so that one
// Segment makes a run's networks on either.
type Shell interface {
	// Run runs argv and returns its standard output; a failure's error
	// holds the command and its standard error.
	Run(ctx context.Context, argv ...string) ([]byte, error)
	// DialIn connects to address (a literal IP:port) from inside network
	// namespace ns.
	DialIn(ctx context.Context, ns, network, address string) (net.Conn, error)
}

// Local is this machine.
var Local Shell = localShell{}

type localShell struct{}

func (localShell) Run(ctx context.Context, argv ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("%s: %w: %s", strings.Join(argv, " "), err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}

func (localShell) DialIn(ctx context.Context, ns, network, address string) (net.Conn, error) {
	return NamespaceDialer(ns).DialContext(ctx, network, address)
}

// shell is where the lab's commands run.
func (c Config) shell() Shell {
	if c.Shell == nil {
		return Local
	}
	return c.Shell
}

// bridgeNS is the namespace holding the runs' bridges, where libvirtd puts
// the guests' tap devices: the lab's own, or on a remote host its
// libvirtd's, the host's ("").
func (c Config) bridgeNS() string {
	if c.Mode == ModeRemote {
		return ""
	}
	return c.Namespace
}

// shellDialer reaches a remote run's guests from its namespace on the host.
type shellDialer struct {
	sh Shell
	ns string
}

func (d shellDialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	return d.sh.DialIn(ctx, d.ns, network, address)
}

func (d shellDialer) CheckBridge(ctx context.Context, bridge string) error {
	return checkBridge(ctx, d.sh, "", bridge)
}
