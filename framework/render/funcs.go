package render

import (
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"regexp"
	"strings"
	"text/template"

	"go.yaml.in/yaml/v3"
)

// funcs are the few helpers templates need to quote values safely.
var funcs = template.FuncMap{
	// shq quotes a value for a POSIX shell: echo {{shq .Node.Password}}.
	"shq": func(v any) string { return shq(fmt.Sprint(v)) },
	// shword is a value as one shell word: as written when no shell would
	// read any of its characters specially (so the seed's lines render as
	// the seed has them), quoted as shq does otherwise.
	"shword": func(v any) string {
		if s := fmt.Sprint(v); plainWordRE.MatchString(s) {
			return s
		}
		return shq(fmt.Sprint(v))
	},
	// json encodes a value as a JSON literal: "ip_address": {{json .Node.IP}}.
	"json": func(v any) (string, error) {
		b, err := json.Marshal(v)
		return string(b), err
	},
	// netmask is the mask of a prefix as Nova writes it: 192.168.100.0/24
	// gives 255.255.255.0, fd00::/64 gives ffff:ffff:ffff:ffff::.
	"netmask": func(p netip.Prefix) (string, error) {
		if !p.IsValid() {
			return "", fmt.Errorf("netmask: no prefix")
		}
		return net.IP(net.CIDRMask(p.Bits(), p.Addr().BitLen())).String(), nil
	},
}

// plainWordRE is what needs no quoting in a POSIX shell (as Python's shlex.quote).
var plainWordRE = regexp.MustCompile(`^[A-Za-z0-9_@%+=:,./-]+$`)

func shq(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func marshalYAML(v any) ([]byte, error) {
	var b strings.Builder
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return []byte(b.String()), nil
}
