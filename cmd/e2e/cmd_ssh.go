package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"golang.org/x/term"

	"github.com/drivelab/drivelab/framework/harness"
	"github.com/drivelab/drivelab/framework/sshx"
	"github.com/drivelab/drivelab/framework/topology"
)

func init() {
	register(command{
		name:    "ssh",
		summary: "a root shell on a node of the kept lab, through test2, with the pinned host key (-- CMD runs CMD)",
		run:     runSSH,
	})
}

func runSSH(ctx context.Context, args []string) error {
	fs := newFlags("ssh")
	fs.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: e2e ssh NODE [-- CMD...]\n\nA root shell on NODE of the kept lab (a terminal when stdin is one), reached\nthrough the client node with the host key the harness pinned; with CMD, run\nit and exit with its status.")
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	node, cmd, err := sshArgs(fs.Args())
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e ssh: %v\n", err)
		fs.Usage()
		return errUsage
	}
	code, err := sshSession(ctx, node, strings.Join(cmd, " "))
	if err != nil {
		return err
	}
	if code != 0 {
		os.Exit(code)
	}
	return nil
}

// sshArgs splits NODE [--] [CMD...].
func sshArgs(args []string) (node string, cmd []string, err error) {
	if len(args) == 0 || args[0] == "--" || args[0] == "" {
		return "", nil, errors.New("name the node")
	}
	node, cmd = args[0], args[1:]
	if len(cmd) > 0 && cmd[0] == "--" {
		cmd = cmd[1:]
	}
	return node, cmd, nil
}

// sshSession opens the session and returns the remote exit status.
func sshSession(ctx context.Context, name, cmd string) (int, error) {
	k, err := loadKept()
	if err != nil {
		return -1, err
	}
	topo := k.rec.Effective(k.topo)
	node, ok := topo.Node(name)
	if !ok {
		return -1, fmt.Errorf("%q is not a node of kept lab %s (have %s)", name, k.rec.Run, strings.Join(topo.NodeNames(), ", "))
	}
	client, err := topo.ClientNode()
	if err != nil {
		return -1, err
	}
	// Sessions to the node and the nodes it is reached through only
	// (topology.Hops: the client, on one network).
	hops, err := topo.Hops()
	if err != nil {
		return -1, err
	}
	var path []string
	for n := node.Name; n != ""; n = hops[n].Via {
		path = append(path, n)
	}
	if err := k.connect(ctx); err != nil {
		return -1, err
	}
	defer k.close()
	if err := running(ctx, k, path...); err != nil {
		return -1, err
	}
	access, err := harness.LoadOrCreateAccess(filepath.Join(harness.RunDir(k.env.Paths, k.rec.Run), "keys"), topo)
	if err != nil {
		return -1, err
	}
	reach := *topo
	reach.Nodes = slices.DeleteFunc(slices.Clone(topo.Nodes), func(n topology.Node) bool { return !slices.Contains(path, n.Name) })
	sessions, err := harness.Connect(ctx, harness.ConnectInput{
		Topology: &reach, Client: client, Dial: k.up.Platform.Network(k.rec.Run).DialContext, Access: access, Intervals: k.up.Intervals,
	})
	if err != nil {
		return -1, err
	}
	defer harness.CloseAll(sessions)

	in := sshx.StreamInput{Cmd: cmd, Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr}
	if fd := int(os.Stdin.Fd()); cmd == "" && term.IsTerminal(fd) {
		w, h, err := term.GetSize(fd)
		if err != nil {
			w, h = 80, 24
		}
		resize := make(chan [2]int, 1)
		winch := make(chan os.Signal, 1)
		signal.Notify(winch, syscall.SIGWINCH)
		defer signal.Stop(winch)
		go func() {
			for range winch {
				if w, h, err := term.GetSize(fd); err == nil {
					select {
					case resize <- [2]int{w, h}:
					default:
					}
				}
			}
		}()
		in.PTY = &sshx.PTY{Term: os.Getenv("TERM"), Width: w, Height: h, Resize: resize}
		// Raw: keys such as Ctrl-C and Tab go to the remote shell.
		old, err := term.MakeRaw(fd)
		if err != nil {
			return -1, err
		}
		defer term.Restore(fd, old)
	}
	return sessions[node.Name].Stream(ctx, in)
}

// running fails fast when a node's domain is not running, instead of
// waiting out the SSH interval.
func running(ctx context.Context, k *keptLab, nodes ...string) error {
	states, err := k.up.Platform.States(ctx, k.rec.Run)
	if err != nil {
		return err
	}
	for _, n := range nodes {
		if state := cmp.Or(states[n], "missing"); state != "running" {
			return fmt.Errorf("node %s of kept lab %s: domain %s: `e2e up` boots it again", n, k.rec.Run, state)
		}
	}
	return nil
}
