package loadbalancer

import (
	"slices"
	"strings"
	"unicode"
)

// haproxyConfigFile is the topology's logical name for haproxy.cfg.
const haproxyConfigFile = "haproxy-config"

// haproxyConfig is a haproxy.cfg as the checks, the diagnostics and lint
// read it. parseHaproxyConfig is its one reader: what one of them learns of
// haproxy's syntax (a comment, a defaults section) the others know too.
type haproxyConfig struct {
	// Sections are in file order; the first, of Kind "", holds what comes
	// before any section keyword.
	Sections []*haproxySection
	// StatsSockets are the `stats socket` lines wherever they stand, in
	// file order.
	StatsSockets []statsSocket
	// Lines are every line of the file, in order.
	Lines []haproxyLine
}

// haproxySection is one section: global, defaults, frontend, backend,
// listen, ...
type haproxySection struct {
	Kind, Name string
	Line       int
	// Balance is the section's own `balance`; DefaultsBalance is the one
	// set in the defaults sections before it.
	Balance         string
	BalanceLine     int
	DefaultsBalance string
	// CheckPort is the port of an `http-check connect` or `tcp-check
	// connect` line, the section's own or else its defaults'.
	CheckPort string
	CheckLine int
	Binds     []haproxyBind
	// Backend is where the section sends requests: its default_backend,
	// else its first use_backend.
	Backend     string
	BackendLine int
	Servers     []haproxyServer
	// defaultServer are the default-server options in force: the defaults
	// section's, then the section's own so far.
	defaultServer []string
}

// haproxyBind is one address of a bind line.
type haproxyBind struct {
	Addr   string
	V6Only bool
	Line   int
}

// haproxyServer is a server line, its state and health check as set by
// default-server's options in force, then by its own.
type haproxyServer struct {
	Name, Addr              string
	Line                    int
	Disabled, Backup, Check bool
	Weight                  string
	// CheckPort and CheckAddr are where health checks go (`port`, `addr`)
	// when not to Addr.
	CheckPort, CheckAddr string
}

// setOptions reads a server's options; the last setting of each wins, as
// in haproxy.
func (s *haproxyServer) setOptions(opts []string) {
	for i := 0; i < len(opts); i++ {
		arg := ""
		if i+1 < len(opts) {
			arg = opts[i+1]
		}
		switch opts[i] {
		case "disabled":
			s.Disabled = true
		case "enabled":
			s.Disabled = false
		case "backup":
			s.Backup = true
		case "no-backup":
			s.Backup = false
		case "check":
			s.Check = true
		case "no-check":
			s.Check = false
		case "weight":
			s.Weight, i = arg, i+1
		case "port":
			s.CheckPort, i = arg, i+1
		case "addr":
			s.CheckAddr, i = arg, i+1
		}
	}
}

// statsSocket is a `stats socket` line; haproxy accepts it in global only.
type statsSocket struct {
	Path     string
	Line     int
	InGlobal bool
}

// haproxyLine is one line of the file: its fields, comment dropped, and
// where each starts in the text, so that a field can be replaced in place.
type haproxyLine struct {
	Number int // 1-based
	Text   string
	Fields []string
	starts []int
}

// sectionKeywords start a section of haproxy.cfg.
var sectionKeywords = map[string]bool{
	"global": true, "defaults": true, "frontend": true, "backend": true, "listen": true, "resolvers": true, "peers": true,
	"userlist": true, "program": true, "http-errors": true, "ring": true, "cache": true, "mailers": true,
}

// parseHaproxyConfig reads cfg. It refuses nothing: lint reports what is
// wrong, naming lines, and the checks what they miss.
func parseHaproxyConfig(cfg []byte) haproxyConfig {
	cur := &haproxySection{}
	c := haproxyConfig{Sections: []*haproxySection{cur}}
	// What the last defaults section set; balance alone outlives a
	// defaults section that does not set it again.
	var (
		defaultsBalance, defaultsCheckPort string
		defaultsCheckLine                  int
		defaultServer                      []string
	)
	for i, text := range strings.Split(string(cfg), "\n") {
		l := splitLine(i+1, text)
		c.Lines = append(c.Lines, l)
		f, n := l.Fields, l.Number
		if len(f) == 0 {
			continue
		}
		if sectionKeywords[f[0]] {
			cur = &haproxySection{Kind: f[0], Line: n, DefaultsBalance: defaultsBalance, defaultServer: slices.Clone(defaultServer),
				CheckPort: defaultsCheckPort, CheckLine: defaultsCheckLine}
			if len(f) > 1 {
				cur.Name = f[1]
			}
			if cur.Kind == "defaults" {
				// A defaults section starts afresh.
				defaultServer, defaultsCheckPort, defaultsCheckLine = nil, "", 0
			}
			c.Sections = append(c.Sections, cur)
			continue
		}
		if len(f) < 2 {
			continue
		}
		defaults := cur.Kind == "defaults"
		switch {
		case f[0] == "stats" && len(f) >= 3 && f[1] == "socket":
			c.StatsSockets = append(c.StatsSockets, statsSocket{Path: f[2], Line: n, InGlobal: cur.Kind == "global"})
		case f[0] == "balance" && defaults:
			defaultsBalance = f[1]
		case f[0] == "balance":
			cur.Balance, cur.BalanceLine = f[1], n
		case f[0] == "default-server" && defaults:
			defaultServer = append(defaultServer, f[1:]...)
		case f[0] == "default-server":
			cur.defaultServer = append(cur.defaultServer, f[1:]...)
		case (f[0] == "http-check" || f[0] == "tcp-check") && f[1] == "connect":
			if j := slices.Index(f, "port"); j > 0 && j+1 < len(f) {
				if defaults {
					defaultsCheckPort, defaultsCheckLine = f[j+1], n
				} else {
					cur.CheckPort, cur.CheckLine = f[j+1], n
				}
			}
		case f[0] == "bind":
			v6only := slices.Contains(f[2:], "v6only")
			for _, a := range strings.Split(f[1], ",") {
				cur.Binds = append(cur.Binds, haproxyBind{Addr: a, V6Only: v6only, Line: n})
			}
		case f[0] == "default_backend" || f[0] == "use_backend":
			if cur.Backend == "" || f[0] == "default_backend" {
				cur.Backend, cur.BackendLine = f[1], n
			}
		case f[0] == "server" && len(f) >= 3:
			srv := haproxyServer{Name: f[1], Addr: f[2], Line: n}
			srv.setOptions(append(slices.Clone(cur.defaultServer), f[3:]...))
			cur.Servers = append(cur.Servers, srv)
		}
	}
	return c
}

// splitLine reads one line: fields end at white space, and a # starts a
// comment.
func splitLine(number int, text string) haproxyLine {
	l := haproxyLine{Number: number, Text: text}
	code, _, _ := strings.Cut(text, "#")
	for at := 0; ; {
		start := strings.IndexFunc(code[at:], func(r rune) bool { return !unicode.IsSpace(r) })
		if start < 0 {
			return l
		}
		start += at
		end := strings.IndexFunc(code[start:], unicode.IsSpace)
		if end < 0 {
			end = len(code)
		} else {
			end += start
		}
		l.Fields = append(l.Fields, code[start:end])
		l.starts = append(l.starts, start)
		at = end
	}
}

// replaced is the line's text with each field k replaced by with(k, field);
// spacing and comment stay as written.
func (l haproxyLine) replaced(with func(k int, field string) string) string {
	var b strings.Builder
	last := 0
	for k, field := range l.Fields {
		b.WriteString(l.Text[last:l.starts[k]])
		b.WriteString(with(k, field))
		last = l.starts[k] + len(field)
	}
	b.WriteString(l.Text[last:])
	return b.String()
}

// socketPaths are the paths of the `stats socket` lines, each once, in
// order; the last one is the one haproxy keeps.
func (c haproxyConfig) socketPaths() []string {
	var paths []string
	for _, s := range c.StatsSockets {
		if !slices.Contains(paths, s.Path) {
			paths = append(paths, s.Path)
		}
	}
	return paths
}

// servers are the server lines of every section, in file order.
func (c haproxyConfig) servers() []haproxyServer {
	var all []haproxyServer
	for _, s := range c.Sections {
		all = append(all, s.Servers...)
	}
	return all
}

// backendHasServers reports whether a backend section called name lists a
// server.
func (c haproxyConfig) backendHasServers(name string) bool {
	return slices.ContainsFunc(c.Sections, func(s *haproxySection) bool {
		return s.Kind == "backend" && s.Name == name && len(s.Servers) > 0
	})
}
