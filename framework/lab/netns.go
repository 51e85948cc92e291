package lab

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// ensureNamespace creates the lab's namespace, where libvirtd and virtlogd
// run and the runs' bridges live (see Segment), and brings lo up. It gets no
// address and no route out.
func ensureNamespace(ctx context.Context, c Config) error {
	ns := c.Namespace
	if f, err := openNamespace(ns); err == nil {
		f.Close()
	} else {
		if _, statErr := os.Stat(filepath.Join(NetnsDir, ns)); statErr == nil {
			return err // a stale file: say so rather than paper over it
		}
		if err := run(ctx, Local, "ip", "netns", "add", ns); err != nil {
			return err
		}
		fmt.Fprintf(c.progress(), "lab: created netns %s\n", ns)
	}
	return run(ctx, Local, "ip", "-n", ns, "link", "set", "lo", "up")
}

func deleteNamespace(ctx context.Context, c Config) error {
	if err := run(ctx, Local, "ip", "netns", "del", c.Namespace); err != nil {
		return err
	}
	fmt.Fprintf(c.progress(), "lab: deleted netns %s\n", c.Namespace)
	return nil
}

// checkBridge returns nil if bridge is a Linux bridge in namespace ns
// ("" for the shell's own).
func checkBridge(ctx context.Context, sh Shell, ns, bridge string) error {
	where := "the host namespace"
	if ns != "" {
		where = "netns " + ns
	}
	kind, err := linkKind(ctx, sh, ns, bridge)
	switch {
	case err != nil && ns != "":
		return fmt.Errorf("bridge %s does not exist in %s; bring the lab up with `e2e lab up`", bridge, where)
	case err != nil:
		return fmt.Errorf("bridge %s does not exist in %s; create it (as the runner's admin) or use the netns lab (E2E_LAB_MODE=netns, `e2e lab up`)", bridge, where)
	case kind != "bridge":
		return fmt.Errorf("%s in %s is a %q link, not a bridge; remove it or name another bridge in the topology", bridge, where, kind)
	}
	return nil
}

type ipLink struct {
	Name     string `json:"ifname"`
	Alias    string `json:"ifalias"`
	LinkInfo struct {
		Kind string `json:"info_kind"`
	} `json:"linkinfo"`
}

// ip runs ip(8) through sh, in namespace ns ("" for the shell's own).
func ip(ctx context.Context, sh Shell, ns string, args ...string) ([]byte, error) {
	argv := []string{"ip"}
	if ns != "" {
		argv = append(argv, "-n", ns)
	}
	return sh.Run(ctx, append(argv, args...)...)
}

// ipLinks lists every link of namespace ns with its kind and alias.
func ipLinks(ctx context.Context, sh Shell, ns string, args ...string) ([]ipLink, error) {
	out, err := ip(ctx, sh, ns, append([]string{"-j", "-d", "link", "show"}, args...)...)
	if err != nil {
		return nil, err
	}
	var links []ipLink
	if err := json.Unmarshal(out, &links); err != nil {
		return nil, fmt.Errorf("ip link show %s: %w", strings.Join(args, " "), err)
	}
	return links, nil
}

func linkKind(ctx context.Context, sh Shell, ns, name string) (string, error) {
	links, err := ipLinks(ctx, sh, ns, "dev", name)
	if err != nil {
		return "", err
	}
	if len(links) != 1 {
		return "", fmt.Errorf("ip link show dev %s: %d links", name, len(links))
	}
	return links[0].LinkInfo.Kind, nil
}

// run runs a command through sh; its error holds the command's output.
func run(ctx context.Context, sh Shell, argv ...string) error {
	_, err := sh.Run(ctx, argv...)
	return err
}

// namespaces are the named network namespaces where sh runs.
func namespaces(ctx context.Context, sh Shell) ([]string, error) {
	if sh == Local {
		entries, err := os.ReadDir(NetnsDir)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, err
		}
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		return names, nil
	}
	out, err := sh.Run(ctx, "ip", "netns", "list")
	if err != nil {
		return nil, err
	}
	var names []string
	for _, line := range strings.Split(string(out), "\n") {
		if f := strings.Fields(line); len(f) > 0 { // "name (id: 3)"
			names = append(names, f[0])
		}
	}
	return names, nil
}

// hasNamespace reports whether sh's machine has the named namespace.
func hasNamespace(ctx context.Context, sh Shell, ns string) bool {
	if sh == Local {
		_, err := os.Stat(filepath.Join(NetnsDir, ns))
		return err == nil
	}
	names, err := namespaces(ctx, sh)
	return err == nil && slices.Contains(names, ns)
}
