package render

import (
	"bytes"
	"regexp"
	"strings"
)

// RedactedKey replaces every private key in a redacted drive.
const RedactedKey = "[private key redacted by drivelab: this copy cannot impersonate the node]"

// privateKeyRE matches a PEM private key block, also inside a JSON string
// whose newlines are escapes (vendor_data.json).
var privateKeyRE = regexp.MustCompile(`(?s)-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----.*?-----END [A-Z0-9 ]*PRIVATE KEY-----`)

// Redacted is a copy of d whose files hold no private key, for artifacts
// that CI systems upload and keep; redacted lists the drive paths changed.
// A file with a private key marker left after that (a block cut short) is
// replaced whole. Package contents (Source files) are not read.
func Redacted(d Drive) (out Drive, redacted []string) {
	redact := func(drivePath string, data []byte) []byte {
		if data == nil || !bytes.Contains(data, []byte("PRIVATE KEY")) {
			return data
		}
		redacted = append(redacted, drivePath)
		data = privateKeyRE.ReplaceAllLiteral(data, []byte(RedactedKey))
		if bytes.Contains(data, []byte("PRIVATE KEY-----")) {
			if strings.HasSuffix(drivePath, ".json") {
				return []byte(`{"drivelab": "` + RedactedKey + `"}` + "\n")
			}
			return []byte(RedactedKey + "\n")
		}
		return data
	}
	out = d
	out.MetaData = redact(MetaDataPath, d.MetaData)
	out.UserData = redact(UserDataPath, d.UserData)
	out.VendorData = redact(VendorDataPath, d.VendorData)
	out.NetworkData = redact(NetworkDataPath, d.NetworkData)
	// The nova layout copies vendor_data.json, keys and all, into every
	// dated folder and vendor_data2.json.
	if d.LayoutFiles != nil {
		out.LayoutFiles = make([]File, len(d.LayoutFiles))
		for i, f := range d.LayoutFiles {
			f.Data = redact(f.Path, f.Data)
			out.LayoutFiles[i] = f
		}
	}
	out.Content = make([]Content, len(d.Content))
	for i, c := range d.Content {
		c.Data = redact(ContentFile(c.ContentPath), c.Data)
		out.Content[i] = c
	}
	return out, redacted
}

// Redactor replaces, in text that may quote the drives (a lint message, a
// tool's output), every line of every private key they carry with
// RedactedKey: a message naming a line must not hand out the key it is on.
// Lines are matched alone, so a key quoted in part, or with JSON's escaped
// newlines (vendor_data.json), is caught too.
func (r *Result) Redactor() *strings.Replacer {
	var pairs []string
	seen := map[string]bool{}
	for _, d := range r.Drives {
		for _, f := range d.Files() {
			for _, block := range privateKeyRE.FindAll(f.Data, -1) {
				for _, line := range strings.FieldsFunc(strings.ReplaceAll(string(block), `\n`, "\n"), func(c rune) bool { return c == '\n' || c == '\r' }) {
					line = strings.TrimSpace(line)
					if len(line) >= minKeyLine && !strings.HasPrefix(line, "-----") && !seen[line] {
						seen[line] = true
						pairs = append(pairs, line, RedactedKey)
					}
				}
			}
		}
	}
	return strings.NewReplacer(pairs...)
}

// minKeyLine is the shortest key line Redactor replaces: a key's base64
// lines are 70 characters but its last, which can be a few; shorter ones
// would match ordinary words.
const minKeyLine = 8
