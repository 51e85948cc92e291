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
	out.Content = make([]Content, len(d.Content))
	for i, c := range d.Content {
		c.Data = redact(ContentFile(c.ContentPath), c.Data)
		out.Content[i] = c
	}
	return out, redacted
}
