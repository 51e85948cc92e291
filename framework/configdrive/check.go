package configdrive

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/drivelab/drivelab/framework/render"
)

// Error is one reason a drive would not reach the guest as described,
// located in the drive: lint maps it to the template that rendered it.
type Error struct {
	Node string
	// Path is the drive file at fault (openstack/latest/network_data.json);
	// Line the line in it, 0 when the problem is not one line's.
	Path string
	Line int
	// Msg says what is wrong and how to fix it; it names Path itself.
	Msg string
}

func (e *Error) Error() string { return "node " + e.Node + ": " + e.Msg }

// Check refuses a drive that would not reach the guest as described: invalid
// JSON, no uuid, a content_path with no content, a network_data link whose
// MAC is not the node's NIC, names the ISO9660 writer would change or make
// collide. It does not look at package files (lint has none); Build runs it
// and then makes sure every content has bytes, before writing anything.
// Each problem is an *Error in one errors.Join.
func Check(d render.Drive) error {
	node := d.Node.Name
	var errs []error
	failAt := func(path string, line int, format string, args ...any) {
		errs = append(errs, &Error{Node: node, Path: path, Line: line, Msg: fmt.Sprintf(format, args...)})
	}
	fail := func(format string, args ...any) { failAt(render.MetaDataPath, 0, format, args...) }

	for _, f := range []struct {
		path string
		data []byte
	}{{render.MetaDataPath, d.MetaData}, {render.VendorDataPath, d.VendorData}, {render.NetworkDataPath, d.NetworkData}} {
		if f.data == nil && f.path == render.NetworkDataPath {
			continue
		}
		if err := validJSON(f.data); err != nil {
			failAt(f.path, 0, "%s is not valid JSON: %v; fix its template", f.path, err)
		}
	}

	var meta struct {
		UUID  *string `json:"uuid"`
		Files []struct {
			Path        *string `json:"path"`
			ContentPath *string `json:"content_path"`
		} `json:"files"`
	}
	if err := json.Unmarshal(d.MetaData, &meta); err == nil {
		if meta.UUID == nil || *meta.UUID == "" {
			fail("%s has no uuid; cloud-init uses it as the instance-id: set the node's uuid in the topology", render.MetaDataPath)
		}
		have := map[string]bool{}
		for _, f := range d.Files() {
			have[f.Path] = true
		}
		for i, f := range meta.Files {
			switch {
			case f.Path == nil || *f.Path == "":
				fail("%s files[%d] has no path", render.MetaDataPath, i)
			case f.ContentPath == nil || *f.ContentPath == "":
				fail("%s files[%d] (%s) has no content_path", render.MetaDataPath, i, *f.Path)
			case slices.Contains(strings.Split(*f.ContentPath, "/"), ".."):
				fail("%s files[%d] (%s): content_path %q leaves openstack/", render.MetaDataPath, i, *f.Path, *f.ContentPath)
			case !have[render.ContentFile(*f.ContentPath)]:
				fail("%s files[%d] (%s): content_path %q has no content on the drive (no %s); add the content or drop the entry", render.MetaDataPath, i, *f.Path, *f.ContentPath, render.ContentFile(*f.ContentPath))
			}
		}
	}

	if d.NetworkData != nil {
		var nd struct {
			Links []struct {
				ID  string `json:"id"`
				MAC string `json:"ethernet_mac_address"`
			} `json:"links"`
		}
		if err := json.Unmarshal(d.NetworkData, &nd); err == nil {
			var macs []string
			for _, c := range d.Node.PhysicalNICs() {
				macs = append(macs, c.MAC)
			}
			for _, l := range nd.Links {
				if l.MAC != "" && !slices.ContainsFunc(macs, func(m string) bool { return strings.EqualFold(l.MAC, m) }) {
					failAt(render.NetworkDataPath, render.LineOf(d.NetworkData, l.MAC), "%s link %q has MAC %s but the node's NIC is %s: cloud-init would find no such NIC and fail its network stage", render.NetworkDataPath, l.ID, l.MAC, strings.Join(macs, ", "))
				}
			}
		}
	}

	errs = append(errs, checkNames(node, d.Files())...)
	return errors.Join(errs...)
}

func validJSON(data []byte) error {
	if len(bytes.TrimSpace(data)) == 0 {
		return errors.New("it is empty")
	}
	var v any
	return json.Unmarshal(data, &v)
}

// checkNames refuses paths that would not come out of the ISO as they went in.
func checkNames(node string, files []render.File) []error {
	var errs []error
	seen := map[string]string{}
	for _, f := range files {
		got := isoPath(f.Path)
		if other, dup := seen[got]; dup {
			errs = append(errs, &Error{Node: node, Path: other, Msg: fmt.Sprintf("%s and %s both become %s on the ISO9660 drive; rename one", other, f.Path, got)})
			continue
		}
		seen[got] = f.Path
		if got != f.Path {
			errs = append(errs, &Error{Node: node, Path: f.Path, Msg: fmt.Sprintf("%s would be written as %s (ISO9660 names: lower-case letters, digits and _, one dot, at most 30 characters); rename it", f.Path, got)})
		}
	}
	return errs
}

// isoPath is the path the guest sees for a file written by
// github.com/kdomanski/iso9660: its mangling (lower case, characters outside
// d1 to '_', every dot but the last to '_', length limits), then Linux's
// default isofs mapping (";1" and a trailing dot dropped). The library keeps
// its mangling private; TestIsoPathMatchesTheWriter holds this copy to it.
func isoPath(p string) string {
	parts := strings.FieldsFunc(p, func(r rune) bool { return r == '/' })
	if len(parts) == 0 {
		return ""
	}
	for i, dir := range parts[:len(parts)-1] {
		parts[i] = mangleD1(dir, 31)
	}
	name := strings.ToLower(parts[len(parts)-1])
	base, ext := name, ""
	if i := strings.LastIndexByte(name, '.'); i >= 0 {
		base, ext = strings.ReplaceAll(name[:i], ".", "_"), mangleD1(name[i+1:], 8)
	}
	maxBase := 30 - 2 // room for ";1"
	if ext != "" {
		maxBase -= 1 + len(ext)
	}
	base = mangleD1(base, maxBase)
	if ext != "" {
		base += "." + ext
	}
	parts[len(parts)-1] = strings.TrimSuffix(base, ".")
	return path.Join(parts...)
}

// d1 are the characters the writer keeps (ECMA-119 d1 as it defines them).
const d1 = "abcdefghijklmnopqrstuvwxyz0123456789_!\"%&'()*+,-./:;<=>?"

func mangleD1(s string, max int) string {
	s = strings.ToLower(s)
	var b strings.Builder
	for i := 0; i < len(s) && i < max; i++ {
		switch {
		case s[i] == ';':
			b.WriteByte('.') // kept by the writer, shown as '.' by Linux
		case strings.IndexByte(d1, s[i]) >= 0:
			b.WriteByte(s[i])
		default:
			b.WriteByte('_')
		}
	}
	return b.String()
}
