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

// passwordLineRE finds `echo WORD | chpasswd [-e]` and `echo WORD | passwd --stdin root`.
var passwordLineRE = regexp.MustCompile(`\becho\s+(.+?)\s*\|\s*(chpasswd((?:\s+(?:-e|--encrypted|-c\s+\S+|--crypt-method\s+\S+))*)|passwd\s+--stdin\s+root)\b`)

// password is one setting of root's password user_data makes.
type password struct {
	line   int // in user_data; 0 unknown
	note   string
	value  string
	ok     bool // value could be read without running the shell
	hashed bool // a crypt hash (chpasswd -e, type: hash)
	random bool // cloud-init makes one up (RANDOM)
}

// passwordFacts wants user_data to set root's password to the topology's,
// as the guest will: a script's chpasswd or passwd --stdin line, or the
// merged cloud-config's chpasswd or users. A hash is checked with crypt
// (cloud-init's answer, see guestview.py). Passwords are never printed.
func (p *Pass) passwordFacts(d render.Drive, parts []userPart, v *driveView) {
	var found []password
	var cc []byte
	switch {
	case v != nil && len(v.Merged) > 0 && string(v.Merged) != "{}":
		cc = v.Merged // JSON is YAML
	case v == nil && bytes.HasPrefix(d.UserData, []byte(cloudConfigHeader)):
		cc = d.UserData
	}
	for _, s := range cloudConfigPasswords(cc) {
		s.line = render.LineOf(d.UserData, "root")
		found = append(found, s)
	}
	for _, part := range parts {
		if !part.script() {
			continue
		}
		for _, s := range scriptPasswords(part.Text) {
			s.line, s.note = part.where(s.line)
			found = append(found, s)
		}
	}
	if len(found) == 0 {
		p.Reportf(d, render.UserDataPath, 0, "user_data sets no root password lint can read; the topology gives node %s a password, which the password check logs in with: set it (echo {{shq (print \"root:\" .Node.Password)}} | chpasswd)", d.Node.Name)
		return
	}
	for _, s := range found {
		switch {
		case !s.ok:
			p.Reportf(d, render.UserDataPath, s.line, "root's password is a shell expression lint cannot read; quote the topology's password as one word ({{shq .Node.Password}})%s", s.note)
		case s.random:
			p.Reportf(d, render.UserDataPath, s.line, "root's password is RANDOM: cloud-init makes one up, not node %s's password in the topology; set that password (type: text) or its hash (type: hash)%s", d.Node.Name, s.note)
		case s.hashed && v == nil:
			p.Skip("root's password hash: crypt needs " + SystemPython + " with Debian's cloud-init (install cloud-init; make test does)")
		case s.hashed:
			if match, checked := v.Hashes[s.value]; !checked || !match {
				p.Reportf(d, render.UserDataPath, s.line, "root's password hash in user_data is not node %s's password in the topology (checked with crypt); hash that password: mkpasswd -m sha-512, or openssl passwd -6%s", d.Node.Name, s.note)
			}
		case s.value != d.Node.Password:
			p.Reportf(d, render.UserDataPath, s.line, "user_data sets root's password to something other than node %s's password in the topology%s", d.Node.Name, s.note)
		}
	}
}

// scriptPasswords are the root passwords a script's lines set.
func scriptPasswords(text string) []password {
	var found []password
	for i, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		m := passwordLineRE.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		word, ok := shellWord(m[1])
		if ok && strings.HasPrefix(m[2], "chpasswd") {
			user, pw, colon := strings.Cut(word, ":")
			if !colon || user != "root" {
				continue // another user's password
			}
			word = pw
		}
		hashed := regexp.MustCompile(`(^|\s)(-e|--encrypted)\b`).MatchString(m[3])
		found = append(found, password{line: i + 1, value: word, ok: ok, hashed: hashed})
	}
	return found
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

// listHashRE is what cloud-init's chpasswd takes as a hash in a list entry
// (cc_set_passwords).
var listHashRE = regexp.MustCompile(`^\$(1|2a|2y|5|6)(\$.+){2}`)

// cloudConfigPasswords are root's passwords a cloud-config sets, as
// cloud-init's modules read them: chpasswd's list ("user:password" lines
// or a list; a value like $6$salt$hash is a hash) and users (type hash
// unless it says text or RANDOM), and users' root entry.
func cloudConfigPasswords(data []byte) []password {
	var cc struct {
		Chpasswd struct {
			List  any `yaml:"list"`
			Users []struct {
				Name     string `yaml:"name"`
				Password string `yaml:"password"`
				Type     string `yaml:"type"`
			} `yaml:"users"`
		} `yaml:"chpasswd"`
		Users []any `yaml:"users"`
	}
	if len(data) == 0 || yaml.Unmarshal(data, &cc) != nil {
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
	var out []password
	for _, u := range cc.Chpasswd.Users {
		if u.Name != "root" {
			continue
		}
		switch u.Type {
		case "text":
			out = append(out, password{value: u.Password, ok: true})
		case "RANDOM":
			out = append(out, password{ok: true, random: true})
		default:
			out = append(out, password{value: u.Password, ok: true, hashed: true, random: u.Password == ""})
		}
	}
	if len(cc.Chpasswd.Users) == 0 { // cloud-init ignores list when users is given
		for _, p := range pairs {
			if user, pw, ok := strings.Cut(strings.TrimSpace(p), ":"); ok && user == "root" {
				out = append(out, password{value: pw, ok: true, hashed: listHashRE.MatchString(pw) && !strings.Contains(pw, ":"), random: pw == "R" || pw == "RANDOM"})
			}
		}
	}
	for _, x := range cc.Users {
		u, ok := x.(map[string]any)
		if !ok || u["name"] != "root" {
			continue
		}
		for _, k := range []string{"hashed_passwd", "passwd"} {
			if s, ok := u[k].(string); ok && s != "" {
				out = append(out, password{value: s, ok: true, hashed: true})
			}
		}
		if s, ok := u["plain_text_passwd"].(string); ok && s != "" {
			out = append(out, password{value: s, ok: true})
		}
	}
	return out
}
