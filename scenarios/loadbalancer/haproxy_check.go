package loadbalancer

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/drivelab/drivelab/framework/lint"
	"github.com/drivelab/drivelab/framework/render"
)

// haproxyMessageRE matches haproxy -c's "[ALERT]    (123) : config : parsing [f:12] : msg"
// and "[ALERT]    (123) : config : [f:12] : msg" (the temporary file's name dropped).
var haproxyMessageRE = regexp.MustCompile(`^\[(ALERT|WARNING)\]\s*\(\d+\) : (?:config : )?(?:(?:parsing )?\[[^\]]*:(\d+)\] : )?(.*)$`)

// haproxyCheck runs `haproxy -c` on the rendered config and maps its
// messages back to template lines.
func haproxyCheck(ctx context.Context, p *lint.Pass, d render.Drive, drivePath string, hc haproxyConfig, hosts lint.Resolver) {
	bin, err := haproxyBinary()
	if err != nil {
		p.Skip("haproxy -c: haproxy is not on PATH (install the haproxy package; make test does)")
		return
	}
	dir, err := os.MkdirTemp("", "drivelab-lint-")
	if err != nil {
		p.Report(lint.Problem{Node: d.Node.Name, Message: fmt.Sprintf("haproxy -c: %v", err)})
		return
	}
	defer os.RemoveAll(dir)
	file := filepath.Join(dir, "haproxy.cfg")
	if err := os.WriteFile(file, resolved(hosts, hc), 0o644); err != nil {
		p.Report(lint.Problem{Node: d.Node.Name, Message: fmt.Sprintf("haproxy -c: %v", err)})
		return
	}
	out, err := exec.CommandContext(ctx, bin, "-c", "-f", file).CombinedOutput()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		p.Report(lint.Problem{Node: d.Node.Name, Message: fmt.Sprintf("haproxy -c could not run: %v", err)})
		return
	}
	reported := false
	for _, line := range strings.Split(string(out), "\n") {
		m := haproxyMessageRE.FindStringSubmatch(strings.TrimSpace(line))
		if m == nil || strings.HasPrefix(m[3], "Error(s) found in configuration file") || strings.HasPrefix(m[3], "Fatal errors found in configuration") {
			continue
		}
		n, _ := strconv.Atoi(m[2])
		p.Reportf(d, drivePath, n, "haproxy -c %s: %s", strings.ToLower(m[1]), m[3])
		reported = true
	}
	if err != nil && !reported {
		p.Reportf(d, drivePath, 0, "haproxy -c rejects it:\n%s", out)
	}
}

// haproxyBinary finds haproxy on PATH or where Debian puts it, which is
// not on a normal user's PATH.
func haproxyBinary() (string, error) {
	if bin, err := exec.LookPath("haproxy"); err == nil {
		return bin, nil
	}
	return exec.LookPath("/usr/sbin/haproxy")
}

// resolved is the config with the host names at address positions (a
// server's address and `addr`, a bind's addresses) replaced by the
// addresses the guest's hosts file gives them: the host running lint cannot
// resolve them. Other words stay (a short name such as "haproxy" is also a
// user and group), and lines stay where they are, so messages map back.
func resolved(hosts lint.Resolver, hc haproxyConfig) []byte {
	lines := make([]string, len(hc.Lines))
	for i, l := range hc.Lines {
		at := addressFields(l.Fields)
		lines[i] = l.replaced(func(k int, field string) string {
			if slices.Contains(at, k) {
				return resolveAddrs(hosts, field)
			}
			return field
		})
	}
	return []byte(strings.Join(lines, "\n"))
}

// addressFields are the indexes of a line's fields that hold addresses.
func addressFields(f []string) []int {
	if len(f) < 2 {
		return nil
	}
	switch f[0] {
	case "server":
		at := []int{2}
		for k := 3; k+1 < len(f); k++ {
			if f[k] == "addr" {
				at = append(at, k+1)
			}
		}
		return at
	case "bind":
		return []int{1}
	}
	return nil
}

// resolveAddrs resolves each name in a comma-separated list of
// [family@]host[:port] addresses.
func resolveAddrs(hosts lint.Resolver, list string) string {
	parts := strings.Split(list, ",")
	for i, a := range parts {
		prefix := ""
		if j := strings.IndexByte(a, '@'); j >= 0 {
			prefix, a = a[:j+1], a[j+1:]
		}
		host, port, hasPort := a, "", false
		if j := strings.LastIndexByte(a, ':'); j >= 0 && !strings.Contains(a[:j], ":") {
			host, port, hasPort = a[:j], a[j+1:], true
		}
		if _, err := netip.ParseAddr(host); err == nil || host == "" || host == "*" {
			continue
		}
		if ip, ok := hosts.Lookup(host); ok && prefix != "ipv6@" {
			host = ip.String()
		}
		if hasPort {
			host += ":" + port
		}
		parts[i] = prefix + host
	}
	return strings.Join(parts, ",")
}
