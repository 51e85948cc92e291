package lint

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/drivelab/drivelab/framework/render"
)

// Facts the topology determines and the checks later compare, read from the
// files that carry them: meta_data's hostname and uuid (hostname and
// first-boot checks), root's password in user_data (password check).

// metaFacts wants meta_data's hostname to be the node's FQDN and its uuid
// the node's: cloud-init takes them as the hostname and the instance-id.
func (p *Pass) metaFacts(d render.Drive) {
	var md struct {
		Hostname *string `json:"hostname"`
		UUID     *string `json:"uuid"`
	}
	if json.Unmarshal(d.MetaData, &md) != nil {
		return // the JSON check reported it
	}
	switch {
	case md.Hostname == nil:
		p.Reportf(d, render.MetaDataPath, 0, "%s has no hostname; cloud-init would keep the image's: say \"hostname\": %q", render.MetaDataPath, d.Node.FQDN)
	case *md.Hostname != d.Node.FQDN:
		p.Reportf(d, render.MetaDataPath, render.LineOf(d.MetaData, `"hostname"`), "hostname %q; the topology names node %s %s (the guest takes meta_data's hostname)", *md.Hostname, d.Node.Name, d.Node.FQDN)
	}
	if md.UUID != nil && *md.UUID != "" && *md.UUID != d.Node.UUID {
		p.Reportf(d, render.MetaDataPath, render.LineOf(d.MetaData, `"uuid"`), "uuid %s; the topology gives node %s uuid %s (the guest's instance-id)", *md.UUID, d.Node.Name, d.Node.UUID)
	}
}

// passwordLineRE finds `echo WORD | chpasswd` and `echo WORD | passwd --stdin root`.
var passwordLineRE = regexp.MustCompile(`\becho\s+(.+?)\s*\|\s*(chpasswd|passwd\s+--stdin\s+root)\b`)

// passwordFacts wants user_data to set root's password to the topology's,
// as the guest will: a script's chpasswd or passwd --stdin line, or a
// cloud-config's chpasswd list or users. Passwords are never printed.
func (p *Pass) passwordFacts(d render.Drive) {
	type setting struct {
		line  int
		value string
		ok    bool // value could be read without running the shell
	}
	var found []setting
	if bytes.HasPrefix(d.UserData, []byte(cloudConfigHeader)) {
		for _, v := range cloudConfigPasswords(d.UserData) {
			found = append(found, setting{line: render.LineOf(d.UserData, "root"), value: v, ok: true})
		}
	} else {
		for i, line := range strings.Split(string(d.UserData), "\n") {
			if strings.HasPrefix(strings.TrimSpace(line), "#") {
				continue
			}
			m := passwordLineRE.FindStringSubmatch(line)
			if m == nil {
				continue
			}
			word, ok := shellWord(m[1])
			if ok && m[2] == "chpasswd" {
				user, pw, colon := strings.Cut(word, ":")
				if !colon || user != "root" {
					continue // another user's password
				}
				word = pw
			}
			found = append(found, setting{line: i + 1, value: word, ok: ok})
		}
	}
	if len(found) == 0 {
		p.Reportf(d, render.UserDataPath, 0, "user_data sets no root password lint can read; the topology gives node %s a password, which the password check logs in with: set it (echo {{shq (print \"root:\" .Node.Password)}} | chpasswd)", d.Node.Name)
		return
	}
	for _, s := range found {
		switch {
		case !s.ok:
			p.Reportf(d, render.UserDataPath, s.line, "root's password is a shell expression lint cannot read; quote the topology's password as one word ({{shq .Node.Password}})")
		case s.value != d.Node.Password:
			p.Reportf(d, render.UserDataPath, s.line, "user_data sets root's password to something other than node %s's password in the topology", d.Node.Name)
		}
	}
}

// shellWord reads echo's arguments made of plain characters, 'single' and
// "double" quoted parts, as echo prints them (unquoted blanks become one
// space); false when they hold an expansion or an escape, whose value only
// the shell knows.
func shellWord(w string) (string, bool) {
	var b strings.Builder
	for i := 0; i < len(w); i++ {
		switch c := w[i]; c {
		case ' ', '\t':
			if b.Len() > 0 && !strings.HasSuffix(b.String(), " ") {
				b.WriteByte(' ')
			}
		case '\'':
			j := strings.IndexByte(w[i+1:], '\'')
			if j < 0 {
				return "", false
			}
			b.WriteString(w[i+1 : i+1+j])
			i += j + 1
		case '"':
			j := strings.IndexByte(w[i+1:], '"')
			if j < 0 || strings.ContainsAny(w[i+1:i+1+j], "$`\\") {
				return "", false
			}
			b.WriteString(w[i+1 : i+1+j])
			i += j + 1
		case '$', '`', '\\', '*', '?', '[', '~', '{', ';', '&', '|', '<', '>', '(', ')':
			return "", false
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), true
}

// cloudConfigPasswords are root's passwords a cloud-config sets through
// chpasswd (list: "user:password" lines or a list; users: name/password).
func cloudConfigPasswords(data []byte) []string {
	var cc struct {
		Chpasswd struct {
			List  any `yaml:"list"`
			Users []struct {
				Name     string `yaml:"name"`
				Password string `yaml:"password"`
			} `yaml:"users"`
		} `yaml:"chpasswd"`
	}
	if yaml.Unmarshal(data, &cc) != nil {
		return nil // the schema check reports it
	}
	var pairs []string
	switch v := cc.Chpasswd.List.(type) {
	case string:
		pairs = strings.Split(v, "\n")
	case []any:
		for _, x := range v {
			pairs = append(pairs, fmt.Sprint(x))
		}
	}
	var out []string
	for _, p := range pairs {
		if user, pw, ok := strings.Cut(strings.TrimSpace(p), ":"); ok && user == "root" {
			out = append(out, pw)
		}
	}
	for _, u := range cc.Chpasswd.Users {
		if u.Name == "root" {
			out = append(out, u.Password)
		}
	}
	return out
}
