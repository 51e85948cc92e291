// Package remote reaches KVM hosts over SSH, as libvirt's qemu+ssh:// does:
// host lists (libvirt URIs resolved through the user's ssh_config), SSH
// clients whose host keys are pinned by known_hosts files and whose loss is
// noticed by keepalives, commands with safely quoted arguments, libvirtd's
// socket and guest addresses reached through the host, and resumable,
// verified uploads.
package remote

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// DefaultSocket is libvirtd's (or virtqemud's) read-write socket on a host.
const DefaultSocket = "/var/run/libvirt/libvirt-sock"

// Host is one entry of a host list (E2E_HOSTS): a libvirt URI, resolved.
type Host struct {
	// URI is the entry as given.
	URI string
	// Local is this machine's libvirtd (qemu:///system, "" or "local"): no
	// SSH, and no other field but Socket and Name is set.
	Local bool
	// User, Hostname and Port are where to log in: from the URI, then the
	// user's ssh_config (User, HostName, Port), then the local user's name
	// and port 22.
	User, Hostname, Port string
	// KeyFiles are the private keys to offer: the URI's ?keyfile=, else
	// ssh_config's IdentityFile lines, else those of ~/.ssh/id_ed25519,
	// id_ecdsa and id_rsa that exist.
	KeyFiles []string
	// KnownHosts are the files pinning the host's key: the URI's
	// ?known_hosts=, else ssh_config's UserKnownHostsFile, else
	// ~/.ssh/known_hosts.
	KnownHosts []string
	// ProxyJump is ssh_config's ProxyJump as written ("" for none, including
	// "none"); Jumps are its hops, in order, each resolved through
	// ssh_config as a host of its own (their own ProxyJump is not followed).
	ProxyJump string
	Jumps     []Host
	// Socket is the host's libvirtd socket: the URI's ?socket=, else
	// DefaultSocket.
	Socket string
	// Name is short, for reports and file names: the host as the URI names
	// it, with ":port" when the port is not 22; "local" for this machine.
	Name string
}

// Addr is Hostname:Port, for dialing.
func (h Host) Addr() string { return net.JoinHostPort(h.Hostname, h.Port) }

// ParseHosts parses a comma-separated list of libvirt URIs:
//
//	qemu:///system, "" or "local"       this machine's libvirtd
//	qemu+ssh://[user@]host[:port]/system[?keyfile=F&known_hosts=F&socket=S&known_hosts_verify=normal]
//
// qemu+libssh2:// and qemu+libssh:// are synonyms of qemu+ssh://. Session
// URIs, other transports, unpinned host keys (no_verify=1,
// known_hosts_verify=ignore|auto, StrictHostKeyChecking no), unknown
// parameters and duplicates are refused; each error names the entry and
// the fix.
func ParseHosts(list string, cfg SSHConfig) ([]Host, error) {
	var hosts []Host
	seen := map[string]string{}
	for _, entry := range strings.Split(list, ",") {
		entry = strings.TrimSpace(entry)
		h, err := parseHost(entry, cfg)
		if err != nil {
			return nil, fmt.Errorf("host %q: %w", entry, err)
		}
		if prev, dup := seen[h.Name]; dup {
			return nil, fmt.Errorf("host %q: the same host as %q; list each host once", entry, prev)
		}
		seen[h.Name] = entry
		hosts = append(hosts, h)
	}
	return hosts, nil
}

func parseHost(entry string, cfg SSHConfig) (Host, error) {
	if entry == "" || entry == "local" {
		return Host{URI: entry, Local: true, Socket: DefaultSocket, Name: "local"}, nil
	}
	u, err := url.Parse(entry)
	if err != nil || u.Scheme == "" {
		return Host{}, fmt.Errorf("not a libvirt URI; write qemu+ssh://[user@]host[:port]/system or qemu:///system")
	}
	driver, transport, _ := strings.Cut(u.Scheme, "+")
	if driver != "qemu" {
		return Host{}, fmt.Errorf("driver %q: the harness runs QEMU/KVM guests only; write qemu+ssh://%s/system", driver, u.Host)
	}
	if u.Path != "/system" {
		return Host{}, fmt.Errorf("path %q: only the system instance (/system) has the networks and privileges the lab needs; write .../system", u.Path)
	}
	q := u.Query()
	socket := DefaultSocket
	if v, ok := q["socket"]; ok {
		if len(v) != 1 || !filepath.IsAbs(v[0]) {
			return Host{}, fmt.Errorf("socket=%v: give one absolute path", v)
		}
		socket = v[0]
	}
	switch transport {
	case "":
		if u.Host != "" {
			return Host{}, fmt.Errorf("qemu://%s/ would use libvirt's TLS transport; use qemu+ssh://%s/system", u.Host, u.Host)
		}
		if bad := unknownParams(q, "socket"); bad != "" {
			return Host{}, fmt.Errorf("parameter %s is not supported for the local host; only socket= is", bad)
		}
		return Host{URI: entry, Local: true, Socket: socket, Name: "local"}, nil
	case "ssh", "libssh2", "libssh":
	default:
		return Host{}, fmt.Errorf("transport %q is not supported: the harness reaches hosts over SSH only; use qemu+ssh://%s/system", transport, u.Host)
	}
	if bad := unknownParams(q, "socket", "keyfile", "known_hosts", "known_hosts_verify", "no_verify"); bad != "" {
		return Host{}, fmt.Errorf("parameter %s is not supported; remove it (supported: keyfile, known_hosts, known_hosts_verify=normal, socket)", bad)
	}
	if v := q.Get("no_verify"); v != "" && v != "0" {
		return Host{}, fmt.Errorf("no_verify=%s: the harness never ignores host keys; remove it, check the host's fingerprint and add its key with `ssh-keyscan -H %s >> ~/.ssh/known_hosts`", v, u.Hostname())
	}
	if v := q.Get("known_hosts_verify"); v != "" && v != "normal" {
		return Host{}, fmt.Errorf("known_hosts_verify=%s: host keys are pinned, never ignored or learned; remove it, check the host's fingerprint and add its key with `ssh-keyscan -H %s >> ~/.ssh/known_hosts`", v, u.Hostname())
	}
	alias := u.Hostname()
	if alias == "" {
		return Host{}, fmt.Errorf("no host; write qemu+ssh://[user@]host[:port]/system")
	}
	h := Host{URI: entry, Socket: socket, Port: u.Port()}
	if u.User != nil {
		if _, has := u.User.Password(); has {
			return Host{}, fmt.Errorf("a password in the URI is not supported; log in with a key (keyfile= or ssh-agent)")
		}
		h.User = u.User.Username()
	}
	var keyfile, knownHosts string
	if v, ok := q["keyfile"]; ok {
		if len(v) != 1 || v[0] == "" {
			return Host{}, fmt.Errorf("keyfile=%v: give one path", v)
		}
		keyfile = v[0]
	}
	if v, ok := q["known_hosts"]; ok {
		if len(v) != 1 || v[0] == "" {
			return Host{}, fmt.Errorf("known_hosts=%v: give one path", v)
		}
		knownHosts = v[0]
	}
	if err := resolve(&h, alias, cfg, keyfile, knownHosts); err != nil {
		return Host{}, err
	}
	h.Name = alias
	if h.Port != "22" {
		h.Name = net.JoinHostPort(alias, h.Port)
	}
	if jump := cfg.lookup(alias).proxyJump; jump != "" && !strings.EqualFold(jump, "none") {
		h.ProxyJump = jump
		for _, hop := range strings.Split(jump, ",") {
			j, err := parseJump(strings.TrimSpace(hop), cfg)
			if err != nil {
				return Host{}, fmt.Errorf("ProxyJump %q (%s): %w", jump, cfg.lookup(alias).where["proxyjump"], err)
			}
			h.Jumps = append(h.Jumps, j)
		}
	}
	return h, nil
}

// parseJump resolves one ProxyJump hop, [user@]host[:port] or ssh://...
func parseJump(hop string, cfg SSHConfig) (Host, error) {
	if !strings.HasPrefix(hop, "ssh://") {
		hop = "ssh://" + hop
	}
	u, err := url.Parse(hop)
	if err != nil || u.Hostname() == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
		return Host{}, fmt.Errorf("hop %q is not [user@]host[:port]", hop)
	}
	h := Host{URI: hop, Port: u.Port()}
	if u.User != nil {
		h.User = u.User.Username()
	}
	if err := resolve(&h, u.Hostname(), cfg, "", ""); err != nil {
		return Host{}, fmt.Errorf("hop %s: %w", u.Hostname(), err)
	}
	h.Name = net.JoinHostPort(h.Hostname, h.Port)
	return h, nil
}

// resolve fills h's login settings from ssh_config and the defaults; h
// holds what the URI said.
func resolve(h *Host, alias string, cfg SSHConfig, keyfile, knownHosts string) error {
	s := cfg.lookup(alias)
	if s.strict == "no" || s.strict == "off" {
		return fmt.Errorf("StrictHostKeyChecking %s (%s): the harness never accepts an unchecked host key; remove that line, check the host's fingerprint and add its key with `ssh-keyscan -H %s >> ~/.ssh/known_hosts`", s.strict, s.where["stricthostkeychecking"], alias)
	}
	h.Hostname = alias
	if s.hostName != "" {
		h.Hostname = strings.ReplaceAll(strings.ReplaceAll(s.hostName, "%h", alias), "%%", "%")
	}
	if h.Port == "" {
		h.Port = s.port
	}
	if h.Port == "" {
		h.Port = "22"
	}
	if p, err := strconv.Atoi(h.Port); err != nil || p < 1 || p > 65535 {
		return fmt.Errorf("port %q (%s) is not a port number", h.Port, s.where["port"])
	}
	if h.User == "" {
		h.User = s.user
	}
	if h.User == "" {
		h.User = cfg.User
	}
	if h.User == "" {
		return errors.New("no user to log in as; write qemu+ssh://user@host/system")
	}
	tok := tokens{home: cfg.Home, localUser: cfg.User, alias: alias, host: h.Hostname, port: h.Port, user: h.User}
	var err error
	switch {
	case keyfile != "":
		h.KeyFiles, err = expandAll([]string{keyfile}, tok, "keyfile")
	case len(s.identityFiles) > 0:
		h.KeyFiles, err = expandAll(s.identityFiles, tok, "IdentityFile")
	default:
		for _, name := range []string{"id_ed25519", "id_ecdsa", "id_rsa"} {
			p := filepath.Join(cfg.Home, ".ssh", name)
			if _, err := os.Stat(p); err == nil {
				h.KeyFiles = append(h.KeyFiles, p)
			}
		}
	}
	if err != nil {
		return err
	}
	switch {
	case knownHosts != "":
		h.KnownHosts, err = expandAll([]string{knownHosts}, tok, "known_hosts")
	case len(s.knownHosts) > 0:
		h.KnownHosts, err = expandAll(s.knownHosts, tok, "UserKnownHostsFile")
		h.KnownHosts = slices.DeleteFunc(h.KnownHosts, func(p string) bool { return p == "/dev/null" })
		if len(h.KnownHosts) == 0 && err == nil {
			return fmt.Errorf("UserKnownHostsFile /dev/null (%s) would pin no host key; point it at a real known_hosts file", s.where["userknownhostsfile"])
		}
	default:
		h.KnownHosts = []string{filepath.Join(cfg.Home, ".ssh", "known_hosts")}
	}
	return err
}

func expandAll(paths []string, t tokens, what string) ([]string, error) {
	out := make([]string, 0, len(paths))
	for _, p := range paths {
		e, err := expandPath(p, t)
		if err != nil {
			return nil, fmt.Errorf("%s %w", what, err)
		}
		if !filepath.IsAbs(e) {
			// ssh reads relative IdentityFile paths from the home directory.
			e = filepath.Join(t.home, e)
		}
		out = append(out, e)
	}
	return out, nil
}

// unknownParams names the query parameters not in known, "" if none.
func unknownParams(q url.Values, known ...string) string {
	var bad []string
	for k := range q {
		if !slices.Contains(known, k) {
			bad = append(bad, k)
		}
	}
	slices.Sort(bad)
	return strings.Join(bad, ", ")
}
