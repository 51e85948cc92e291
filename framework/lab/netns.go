package lab

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
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
		if err := run(ctx, "ip", "netns", "add", ns); err != nil {
			return err
		}
		fmt.Fprintf(c.progress(), "lab: created netns %s\n", ns)
	}
	return run(ctx, "ip", "-n", ns, "link", "set", "lo", "up")
}

func deleteNamespace(ctx context.Context, c Config) error {
	if err := run(ctx, "ip", "netns", "del", c.Namespace); err != nil {
		return err
	}
	fmt.Fprintf(c.progress(), "lab: deleted netns %s\n", c.Namespace)
	return nil
}

// checkBridge returns nil if bridge is a Linux bridge in namespace ns
// ("" for the caller's own).
func checkBridge(ctx context.Context, ns, bridge string) error {
	where := "the host namespace"
	if ns != "" {
		where = "netns " + ns
	}
	kind, err := linkKind(ctx, ns, bridge)
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

func ipJSON(ctx context.Context, ns string, args ...string) ([]ipLink, error) {
	if ns != "" {
		args = append([]string{"-n", ns}, args...)
	}
	cmd := exec.CommandContext(ctx, "ip", append([]string{"-j"}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("ip %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	var links []ipLink
	if err := json.Unmarshal(out, &links); err != nil {
		return nil, fmt.Errorf("ip %s: %w", strings.Join(args, " "), err)
	}
	if len(links) != 1 {
		return nil, fmt.Errorf("ip %s: %d links", strings.Join(args, " "), len(links))
	}
	return links, nil
}

// ipLinks lists every link of namespace ns with its kind and alias.
func ipLinks(ctx context.Context, ns string) ([]ipLink, error) {
	args := []string{"-j", "-d", "link", "show"}
	if ns != "" {
		args = append([]string{"-n", ns}, args...)
	}
	out, err := exec.CommandContext(ctx, "ip", args...).Output()
	if err != nil {
		return nil, fmt.Errorf("ip %s: %w", strings.Join(args, " "), err)
	}
	var links []ipLink
	if err := json.Unmarshal(out, &links); err != nil {
		return nil, fmt.Errorf("ip %s: %w", strings.Join(args, " "), err)
	}
	return links, nil
}

func linkKind(ctx context.Context, ns, name string) (string, error) {
	links, err := ipJSON(ctx, ns, "-d", "link", "show", "dev", name)
	if err != nil {
		return "", err
	}
	return links[0].LinkInfo.Kind, nil
}

// run runs a command and folds its output into the error.
func run(ctx context.Context, name string, args ...string) error {
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}
