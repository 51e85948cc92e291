package lint_test

import (
	"bytes"
	"context"
	"os/exec"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/drivelab/drivelab/framework/harness"
	"github.com/drivelab/drivelab/framework/harness/linttest"
	"github.com/drivelab/drivelab/framework/lint"
	"github.com/drivelab/drivelab/framework/render"
	"github.com/drivelab/drivelab/framework/testenv"
	"github.com/drivelab/drivelab/framework/topology"
)

// novaDrives renders the reference topology with the nova-layout flavor and
// a run's kind of access (public_keys in meta_data).
func novaDrives(t *testing.T) *render.Result {
	t.Helper()
	testenv.Need(t, haveCloudInit(), "Debian's cloud-init is not importable from %s", lint.SystemPython)
	topo, err := topology.Load(root + "/fixtures/topology.yaml")
	if err != nil {
		t.Fatal(err)
	}
	access, err := harness.NewAccess(topo)
	if err != nil {
		t.Fatal(err)
	}
	res, err := render.Render(context.Background(), render.Input{Topology: topo, TemplatesDir: root + "/fixtures/templates", Flavor: "debian12-nova", Access: access.Render()})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// newestKnown is the newest of Nova's versions the host's cloud-init knows,
// asked of cloud-init itself: the folder its reader must select.
func newestKnown(t *testing.T) string {
	t.Helper()
	out, err := exec.Command(lint.SystemPython, "-c", "from cloudinit.sources.helpers import openstack; print(' '.join(openstack.OS_VERSIONS))").Output()
	if err != nil {
		t.Fatal(err)
	}
	newest := ""
	for _, v := range strings.Fields(string(out)) {
		if slices.Contains(render.NovaVersions, v) && v > newest {
			newest = v
		}
	}
	if newest == "" {
		t.Fatalf("cloud-init knows none of Nova's versions: %q", out)
	}
	return newest
}

// A nova-layout drive is read from the newest folder cloud-init knows, and
// lint says which; a latest-layout drive from openstack/latest/.
func TestLintReportsTheSelectedVersion(t *testing.T) {
	res := novaDrives(t)
	want := newestKnown(t)
	r := lint.Run(context.Background(), lint.Input{Rendered: res})
	if err := r.Err(); err != nil {
		t.Fatal(err)
	}
	for _, d := range res.Drives {
		if got := r.SelectedVersions[d.Node.Name]; got != want {
			t.Errorf("node %s: cloud-init's reader selected %q, want %q", d.Node.Name, got, want)
		}
	}
	t.Logf("cloud-init's reader selected openstack/%s/", want)
	latest, _ := run(t, "debian12", nil)
	if got := latest.SelectedVersions["web01"]; got != "latest" {
		t.Errorf("debian12: selected %q, want latest", got)
	}
}

// The folder cloud-init reads must carry what lint checked in
// openstack/latest/; a folder it does not read may differ.
func TestLintRefusesASelectedFolderThatDisagrees(t *testing.T) {
	selected := newestKnown(t)
	older := render.NovaVersions[0]
	cases := []struct {
		name   string
		change func(fs []render.File) []render.File
		file   string // "" when no problem is wanted
		msg    string
	}{
		{"meta_data.json missing", drop(render.VersionPath(selected, "meta_data.json")),
			render.VersionPath(selected, "meta_data.json"), "Missing mandatory path: " + render.VersionPath(selected, "meta_data.json")},
		{"network_data.json missing", drop(render.VersionPath(selected, "network_data.json")),
			render.VersionPath(selected, "network_data.json"), "network_data.json is missing there, so the guest gets no network_data.json"},
		{"user_data differs", replace(render.VersionPath(selected, "user_data"), "chpasswd", "chpasswd -c SHA256"),
			render.VersionPath(selected, "user_data"), "this user_data differs from openstack/latest/user_data, and the guest gets this one"},
		{"hostname differs", replace(render.VersionPath(selected, "meta_data.json"), `"web01.cloud.org"`, `"web99.cloud.org"`),
			render.VersionPath(selected, "meta_data.json"), `the guest gets "hostname" "web99.cloud.org", latest has "web01.cloud.org"`},
		{"a key latest lacks", replace(render.VersionPath(selected, "meta_data.json"), `"uuid"`, `"meta": {"dsmode": "local"}, "uuid"`),
			render.VersionPath(selected, "meta_data.json"), `the guest gets "meta"`},
		{"vendor_data2.json only there", drop(render.VendorData2Path),
			render.VersionPath(selected, "vendor_data2.json"), "the guest gets this vendor_data2.json, which openstack/latest/ does not have"},
		{"an older folder differs", replace(render.VersionPath(older, "user_data"), "chpasswd", "chpasswd -c SHA256"), "", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res := novaDrives(t)
			web01 := &res.Drives[2]
			orig := web01.LayoutFiles
			web01.LayoutFiles = c.change(slices.Clone(orig))
			if reflect.DeepEqual(orig, web01.LayoutFiles) {
				t.Fatal("the change changed nothing")
			}
			r := lint.Run(context.Background(), lint.Input{Rendered: res})
			if c.file == "" {
				if err := r.Err(); err != nil {
					t.Fatalf("a folder cloud-init does not read was refused: %v", err)
				}
				return
			}
			prefix := "node web01: " + c.file + ":" // then a line, or a space
			if ok, all := linttest.Find(r.Errors(), prefix, c.msg); !ok {
				t.Fatalf("no problem starting %q and containing %q in:\n%s", prefix, c.msg, all)
			}
			for _, p := range r.Errors() {
				if p.Node != "web01" {
					t.Errorf("blames %s, whose drive is whole: %s", p.Node, p)
				}
			}
		})
	}
}

func drop(p string) func([]render.File) []render.File {
	return func(fs []render.File) []render.File {
		return slices.DeleteFunc(fs, func(f render.File) bool { return f.Path == p })
	}
}

func replace(p, old, new string) func([]render.File) []render.File {
	return func(fs []render.File) []render.File {
		for i, f := range fs {
			if f.Path == p {
				fs[i].Data = bytes.Replace(f.Data, []byte(old), []byte(new), 1)
			}
		}
		return fs
	}
}

// cloud-init 22.4 takes a second vendor cloud-config from
// vendor_data2.json's "cloud-init": it is schema-checked like vendor_data's.
func TestLintChecksVendorData2(t *testing.T) {
	res := novaDrives(t)
	web01 := &res.Drives[2]
	bad := []byte(`{"static": {}, "cloud-init": "#cloud-config\nssh_genkeytypes: []\n"}`)
	web01.LayoutFiles = slices.Clone(web01.LayoutFiles)
	n := 0
	for i, f := range web01.LayoutFiles {
		if strings.HasSuffix(f.Path, "/vendor_data2.json") {
			web01.LayoutFiles[i].Data = bad
			n++
		}
	}
	if n != len(render.NovaVersions)-5+1 { // from 2016-10-06, and latest
		t.Fatalf("changed %d vendor_data2.json files", n)
	}
	r := lint.Run(context.Background(), lint.Input{Rendered: res})
	prefix := "node web01: " + render.VendorData2Path + ": "
	if ok, _ := linttest.Find(r.Errors(), prefix, "schema rejects this cloud-config: ssh_genkeytypes: [] is too short"); !ok || len(r.Errors()) != 1 {
		t.Fatalf("want one problem starting %q, got: %v", prefix, r.Err())
	}
}
