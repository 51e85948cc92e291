package lint

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"

	"github.com/drivelab/drivelab/framework/render"
)

// readerFiles are the files cloud-init's ConfigDrive reader takes from the
// version folder it selects (read_v2's datafiles).
var readerFiles = []string{"meta_data.json", "user_data", "vendor_data.json", "network_data.json", "vendor_data2.json"}

// selectedFolder wants the folder cloud-init reads to carry what lint
// checked. Lint's checks read openstack/latest/; cloud-init reads the newest
// dated folder it knows before latest (a nova-layout drive: 2018-08-27 for
// cloud-init 22.4.2). Each file that folder holds must be latest's, and each
// of latest's must be there, except the meta_data keys Nova adds in later
// versions than the one selected (render.NovaWrites): anything else changes
// what the guest gets. Folders cloud-init does not read are not compared.
func (p *Pass) selectedFolder(d render.Drive, v *driveView) {
	if v == nil {
		return // cloud-init did not run: said so under Skipped
	}
	selected := v.SelectedVersion
	switch {
	case selected == "" && v.ReaderError == "":
		p.Reportf(d, render.MetaDataPath, 0, "cloud-init %s's reader logged no \"Selected version\": lint cannot tell which folder of the drive the guest reads (framework/lint/guestview.py, ReaderLog, needs the reader's new message)", p.cloudInit)
		return
	case selected == "" || selected == "latest":
		return
	}
	files := map[string][]byte{}
	for _, f := range d.Files() {
		files[f.Path] = f.Data
	}
	// Problems name the drive file: the folder is at fault, not the
	// template latest's copy came from.
	report := func(file string, line int, format string, args ...any) {
		p.Report(Problem{Node: d.Node.Name, File: file, Line: line, Message: fmt.Sprintf(format, args...)})
	}
	reads := fmt.Sprintf("cloud-init %s reads openstack/%s/, the newest version folder it knows, instead of openstack/latest/, which lint checked", p.cloudInit, selected)
	for _, name := range readerFiles {
		latestPath, selectedPath := render.VersionPath("latest", name), render.VersionPath(selected, name)
		latest, inLatest := files[latestPath]
		got, inSelected := files[selectedPath]
		switch {
		case !inLatest && !inSelected:
		case !inSelected && name == "meta_data.json":
			// The reader refuses the drive: driveReader reported it.
		case !inSelected:
			report(selectedPath, 0, "%s: %s is missing there, so the guest gets no %s; give the folder latest's %s (render the drive again)", reads, name, name, name)
		case !inLatest:
			report(selectedPath, 0, "%s: the guest gets this %s, which openstack/latest/ does not have; remove it, or add it to latest (render the drive again)", reads, name)
		case name == "meta_data.json":
			sameMetaData(report, selectedPath, selected, got, latest, reads)
		case !bytes.Equal(got, latest):
			report(selectedPath, firstDifferentLine(got, latest), "%s: this %s differs from openstack/latest/%s, and the guest gets this one; make them the same (render the drive again)", reads, name, name)
		}
	}
}

// sameMetaData compares the selected folder's meta_data.json with latest's
// key by key, leaving out the keys Nova writes only from a later version.
func sameMetaData(report func(string, int, string, ...any), selectedPath, selected string, got, latest []byte, reads string) {
	var g, l map[string]any
	if json.Unmarshal(got, &g) != nil || json.Unmarshal(latest, &l) != nil {
		return // the JSON check reported it
	}
	for _, key := range slices.Sorted(maps.Keys(l)) {
		if _, ok := g[key]; !ok && render.NovaWrites(selected, key) {
			report(selectedPath, 0, "%s: %q is missing there, so the guest does not get latest's %s; render the drive again", reads, key, quote(l[key]))
		}
	}
	for _, key := range slices.Sorted(maps.Keys(g)) {
		lv, ok := l[key]
		switch {
		case !ok:
			report(selectedPath, render.LineOf(got, `"`+key+`"`), "%s: the guest gets %q (%s), which openstack/latest/meta_data.json does not have; render the drive again", reads, key, quote(g[key]))
		case !reflect.DeepEqual(g[key], lv):
			report(selectedPath, render.LineOf(got, `"`+key+`"`), "%s: the guest gets %q %s, latest has %s; render the drive again", reads, key, quote(g[key]), quote(lv))
		}
	}
}

// quote is a JSON value for a message, cut short.
func quote(v any) string {
	b, _ := json.Marshal(v)
	s := string(b)
	if len(s) > 80 {
		s = s[:77] + "..."
	}
	return s
}

// firstDifferentLine is the first line (1-based) where a differs from b.
func firstDifferentLine(a, b []byte) int {
	al, bl := strings.Split(string(a), "\n"), strings.Split(string(b), "\n")
	for i := range al {
		if i >= len(bl) || al[i] != bl[i] {
			return i + 1
		}
	}
	return len(al)
}
