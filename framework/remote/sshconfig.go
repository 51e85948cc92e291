package remote

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path"
	"path/filepath"
	"strings"
)

// SSHConfig is the part of the user's ssh_config the harness honours:
// HostName, Port, User, IdentityFile, ProxyJump, UserKnownHostsFile and
// StrictHostKeyChecking, with OpenSSH's semantics (the first value obtained
// for a keyword wins; IdentityFile accumulates; Host patterns with * ? and
// !negation). Include and Match are refused, naming the file and line: their
// semantics (Match's canonicalisation, Include inside a Host block) are
// easy to get subtly wrong, and a silently ignored line would make the
// harness log in differently from `ssh`.
//
// A small parser rather than github.com/kevinburke/ssh_config: that module
// accepts Match with its own semantics, without telling where it is, and
// expands no %-tokens.
type SSHConfig struct {
	// Path is the file read ("" when none was).
	Path string
	// Home is the local user's home directory, for ~ and %d; User is the
	// local user's name, for %u and the login name when nothing else gives
	// one. LoadSSHConfig fills both from the passwd entry of this process.
	Home, User string

	blocks []sshBlock
}

// sshBlock is a Host section (the implicit one before the first Host
// matches every host).
type sshBlock struct {
	patterns []string // nil: the top of the file, matches all
	line     int
	opts     []sshOption
}

type sshOption struct {
	key  string // lower case
	args []string
	line int
}

// LoadSSHConfig reads the ssh_config at path; "" means ~/.ssh/config. A
// missing file is an empty config, as it is for ssh.
func LoadSSHConfig(path string) (SSHConfig, error) {
	home, name, err := localUser()
	if err != nil {
		return SSHConfig{}, err
	}
	if path == "" {
		path = filepath.Join(home, ".ssh", "config")
	}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return SSHConfig{Home: home, User: name}, nil
	}
	if err != nil {
		return SSHConfig{}, fmt.Errorf("ssh config: %w", err)
	}
	cfg, err := ParseSSHConfig(path, data)
	if err != nil {
		return SSHConfig{}, err
	}
	cfg.Home, cfg.User = home, name
	return cfg, nil
}

// localUser is this process's user from the passwd database (not $HOME or
// $USER: framework code reads no environment).
func localUser() (home, name string, err error) {
	u, err := user.Current()
	if err != nil {
		return "", "", fmt.Errorf("ssh config: who is the local user: %w", err)
	}
	return u.HomeDir, u.Username, nil
}

// ParseSSHConfig parses ssh_config text; name is the file it came from, for
// errors. Home and User are left empty for the caller to set.
func ParseSSHConfig(name string, data []byte) (SSHConfig, error) {
	cfg := SSHConfig{Path: name, blocks: []sshBlock{{}}}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for n := 1; sc.Scan(); n++ {
		key, args, err := splitConfigLine(sc.Text())
		if err != nil {
			return SSHConfig{}, fmt.Errorf("%s:%d: %w", name, n, err)
		}
		if key == "" {
			continue
		}
		switch key {
		case "host":
			if len(args) == 0 {
				return SSHConfig{}, fmt.Errorf("%s:%d: Host without a pattern", name, n)
			}
			cfg.blocks = append(cfg.blocks, sshBlock{patterns: args, line: n})
			continue
		case "match":
			return SSHConfig{}, fmt.Errorf("%s:%d: Match is not supported by the harness; write the settings under a Host line for the hosts of E2E_HOSTS", name, n)
		case "include":
			return SSHConfig{}, fmt.Errorf("%s:%d: Include is not supported by the harness; copy the included Host sections into %s, or pass a config file without Include", name, n, name)
		}
		if len(args) == 0 {
			return SSHConfig{}, fmt.Errorf("%s:%d: %s without a value", name, n, key)
		}
		b := &cfg.blocks[len(cfg.blocks)-1]
		b.opts = append(b.opts, sshOption{key: key, args: args, line: n})
	}
	if err := sc.Err(); err != nil {
		return SSHConfig{}, fmt.Errorf("%s: %w", name, err)
	}
	return cfg, nil
}

// splitConfigLine splits "Keyword[ =]args..." into the lower-case keyword
// and its arguments, honouring double quotes as ssh does.
func splitConfigLine(line string) (string, []string, error) {
	line = strings.TrimSpace(line)
	if line == "" || line[0] == '#' {
		return "", nil, nil
	}
	end := strings.IndexAny(line, " \t=")
	if end < 0 {
		return strings.ToLower(line), nil, nil
	}
	key := strings.ToLower(line[:end])
	rest := strings.TrimLeft(line[end:], " \t")
	if strings.HasPrefix(rest, "=") {
		rest = strings.TrimLeft(rest[1:], " \t")
	}
	var args []string
	for rest != "" {
		var arg string
		if rest[0] == '"' {
			i := strings.IndexByte(rest[1:], '"')
			if i < 0 {
				return "", nil, fmt.Errorf("unterminated quote in %q", line)
			}
			arg, rest = rest[1:1+i], rest[2+i:]
		} else {
			if rest[0] == '#' {
				break // a trailing comment, as ssh reads one
			}
			i := strings.IndexAny(rest, " \t")
			if i < 0 {
				i = len(rest)
			}
			arg, rest = rest[:i], rest[i:]
		}
		args = append(args, arg)
		rest = strings.TrimLeft(rest, " \t")
	}
	return key, args, nil
}

// sshSettings is what the config says for one host alias: each keyword's
// first value, and every IdentityFile.
type sshSettings struct {
	hostName, port, user, proxyJump, strict string
	identityFiles, knownHosts               []string
	// where says which file:line a value came from, for errors.
	where map[string]string
}

// lookup collects the settings for alias as ssh does: blocks in file
// order, a keyword's first value winning.
func (c SSHConfig) lookup(alias string) sshSettings {
	s := sshSettings{where: map[string]string{}}
	seen := map[string]bool{}
	for _, b := range c.blocks {
		if b.patterns != nil && !matchHost(b.patterns, alias) {
			continue
		}
		for _, o := range b.opts {
			if o.key == "identityfile" {
				s.identityFiles = append(s.identityFiles, o.args[0])
				continue
			}
			if seen[o.key] {
				continue
			}
			seen[o.key] = true
			s.where[o.key] = fmt.Sprintf("%s:%d", c.Path, o.line)
			switch o.key {
			case "hostname":
				s.hostName = o.args[0]
			case "port":
				s.port = o.args[0]
			case "user":
				s.user = o.args[0]
			case "proxyjump":
				s.proxyJump = o.args[0]
			case "userknownhostsfile":
				s.knownHosts = o.args
			case "stricthostkeychecking":
				s.strict = strings.ToLower(o.args[0])
			default:
				delete(s.where, o.key)
			}
		}
	}
	return s
}

// matchHost is ssh's Host test: some pattern matches and no negated one does.
func matchHost(patterns []string, host string) bool {
	matched := false
	for _, p := range patterns {
		neg := strings.HasPrefix(p, "!")
		if neg {
			p = p[1:]
		}
		// path.Match knows * ? and [...]; ssh has only * and ?, so
		// brackets are escaped to stay literal.
		p = strings.NewReplacer("[", `\[`, "]", `\]`, `\`, `\\`).Replace(p)
		ok, _ := path.Match(strings.ToLower(p), strings.ToLower(host))
		if ok && neg {
			return false
		}
		matched = matched || ok
	}
	return matched
}

// tokens are the %-tokens a path may contain.
type tokens struct {
	home, localUser, alias, host, port, user string
}

// expandPath expands a leading ~ and the tokens ssh_config allows in
// IdentityFile and UserKnownHostsFile; any other token is refused, as ssh
// would produce a path we cannot reproduce.
func expandPath(p string, t tokens) (string, error) {
	if p == "~" || strings.HasPrefix(p, "~/") {
		p = t.home + p[1:]
	} else if strings.HasPrefix(p, "~") {
		return "", fmt.Errorf("%q: ~user is not supported; write the full path", p)
	}
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		if p[i] != '%' {
			b.WriteByte(p[i])
			continue
		}
		if i+1 == len(p) {
			return "", fmt.Errorf("%q ends in a lone %%", p)
		}
		i++
		switch p[i] {
		case '%':
			b.WriteByte('%')
		case 'd':
			b.WriteString(t.home)
		case 'h':
			b.WriteString(t.host)
		case 'n':
			b.WriteString(t.alias)
		case 'p':
			b.WriteString(t.port)
		case 'r':
			b.WriteString(t.user)
		case 'u':
			b.WriteString(t.localUser)
		default:
			return "", fmt.Errorf("%q: token %%%c is not supported by the harness (only %%%% %%d %%h %%n %%p %%r %%u); write the path out", p, p[i])
		}
	}
	return b.String(), nil
}
