package configdrive_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kdomanski/iso9660"

	"github.com/drivelab/drivelab/framework/configdrive"
	"github.com/drivelab/drivelab/framework/golden"
	"github.com/drivelab/drivelab/framework/lockfile"
	"github.com/drivelab/drivelab/framework/render"
	"github.com/drivelab/drivelab/framework/topology"
)

const (
	topologyFile = "../../fixtures/topology.yaml"
	templatesDir = "../../fixtures/templates"
)

// drives renders the reference topology with placeholder packages of size bytes.
func drives(t testing.TB, flavor string, size int64) []render.Drive {
	t.Helper()
	topo, err := topology.Load(topologyFile)
	if err != nil {
		t.Fatal(err)
	}
	fl, err := render.LoadFlavor(templatesDir, flavor)
	if err != nil {
		t.Fatal(err)
	}
	pkgs := t.TempDir()
	if err := golden.PlaceholderPackages(pkgs, fl, size); err != nil {
		t.Fatal(err)
	}
	ds, err := render.Render(context.Background(), render.Input{Topology: topo, TemplatesDir: templatesDir, Flavor: flavor, PackageDir: pkgs})
	if err != nil {
		t.Fatal(err)
	}
	return ds.Drives
}

func fileBytes(t *testing.T, f render.File) []byte {
	t.Helper()
	if f.Source == "" {
		return f.Data
	}
	b, err := os.ReadFile(f.Source)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestRoundTrip(t *testing.T) {
	for _, flavor := range []string{"centos7", "debian12", "debian12-nova"} {
		for _, d := range drives(t, flavor, 0) {
			t.Run(flavor+"/"+d.Node.Name, func(t *testing.T) {
				iso := filepath.Join(t.TempDir(), "drive.iso")
				if err := configdrive.Build(context.Background(), d, iso); err != nil {
					t.Fatal(err)
				}
				im, err := configdrive.Read(iso)
				if err != nil {
					t.Fatal(err)
				}
				defer im.Close()
				if im.Label != "config-2" {
					t.Errorf("label = %q", im.Label)
				}
				var want []string
				for _, f := range d.Files() {
					want = append(want, f.Path)
					got, ok := im.Files[f.Path]
					if !ok {
						t.Errorf("%s missing; drive has %v", f.Path, im.Names())
						continue
					}
					b, err := got.Bytes()
					if err != nil || !bytes.Equal(b, fileBytes(t, f)) {
						t.Errorf("%s: read back %q (%v), wrote %q", f.Path, b, err, fileBytes(t, f))
					}
				}
				slices.Sort(want)
				if !slices.Equal(im.Names(), want) {
					t.Errorf("drive holds %v, want %v", im.Names(), want)
				}
			})
		}
	}
}

// The copy of the writer's name mangling must agree with the writer itself.
func TestIsoPathMatchesTheWriter(t *testing.T) {
	names := []string{
		"meta_data.json", "user_data", "0000", "UPPER.Json", "a.b.c", "trailing.",
		"sp ace.txt", "dash-and+plus", "ümlaut", "x.verylongextension",
		"a_name_that_is_longer_than_thirty_characters.json", "a_name_that_is_longer_than_thirty_characters",
		// The nova layout's names (render/layout.go).
		"meta-data.json", "user-data", "vendor_data2.json", "2012-08-10",
	}
	w, err := iso9660.NewWriter()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Cleanup()
	for i, n := range names {
		if err := w.AddFile(strings.NewReader(n), "d"+string(rune('a'+i))+"/"+n); err != nil {
			t.Fatal(err)
		}
	}
	iso := filepath.Join(t.TempDir(), "names.iso")
	f, err := os.Create(iso)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.WriteTo(f, "names"); err != nil {
		t.Fatal(err)
	}
	f.Close()
	im, err := configdrive.Read(iso)
	if err != nil {
		t.Fatal(err)
	}
	defer im.Close()
	for i, n := range names {
		dir := "d" + string(rune('a'+i))
		var got []string
		for _, p := range im.Names() {
			if strings.HasPrefix(p, dir+"/") {
				got = append(got, p)
			}
		}
		if want := configdrive.IsoPath(dir + "/" + n); len(got) != 1 || got[0] != want {
			t.Errorf("%q: writer made %v, IsoPath says %q", n, got, want)
		}
	}
}

// Check's problems are typed: node, drive file and line are fields lint
// reads, not text it cuts out of a message.
func TestCheckErrorsAreTyped(t *testing.T) {
	d := mutate(t, func(d *render.Drive) {
		d.NetworkData = bytes.Replace(d.NetworkData, []byte("52:54:00:64:00:1b"), []byte("52:54:00:64:00:99"), 1)
		d.Content[2].ContentPath = "/content/Index.HTML"
	})
	var got []configdrive.Error
	for _, e := range configdrive.Check(d).(interface{ Unwrap() []error }).Unwrap() {
		var ce *configdrive.Error
		if !errors.As(e, &ce) {
			t.Fatalf("%v is no *configdrive.Error", e)
		}
		got = append(got, *ce)
	}
	macLine := render.LineOf(d.NetworkData, "52:54:00:64:00:99")
	if len(got) != 3 || macLine == 0 ||
		got[0] != (configdrive.Error{Node: "web01", Path: render.MetaDataPath, Msg: got[0].Msg}) || !strings.Contains(got[0].Msg, `content_path "/content/0002" has no content`) ||
		got[1] != (configdrive.Error{Node: "web01", Path: render.NetworkDataPath, Line: macLine, Msg: got[1].Msg}) || !strings.HasPrefix(got[1].Msg, render.NetworkDataPath+` link "eth0" has MAC`) ||
		got[2].Path != "openstack/content/Index.HTML" || got[2].Line != 0 {
		t.Fatalf("got %+v\nwant meta_data's missing content, network_data's MAC at line %d, the name", got, macLine)
	}
	if e := got[1]; e.Error() != "node web01: "+e.Msg {
		t.Errorf("Error() = %q", e.Error())
	}
}

// mutate returns a copy of the reference debian12 web01 drive changed by f.
func mutate(t *testing.T, f func(d *render.Drive)) render.Drive {
	t.Helper()
	ds := drives(t, "debian12", 0)
	d := ds[2]
	d.Content = slices.Clone(d.Content)
	f(&d)
	return d
}

func setMeta(t *testing.T, d *render.Drive, f func(m map[string]any)) {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(d.MetaData, &m); err != nil {
		t.Fatal(err)
	}
	f(m)
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	d.MetaData = b
}

// Each bad drive is refused before anything is written, naming the culprit.
func TestBuildRefusesBadDrives(t *testing.T) {
	cases := map[string]struct {
		drive render.Drive
		want  string
	}{
		"colliding names": {mutate(t, func(d *render.Drive) {
			d.Content = append(d.Content,
				render.Content{GuestPath: "/a", ContentPath: "/content/a.b.c", Data: []byte("1")},
				render.Content{GuestPath: "/b", ContentPath: "/content/a_b.c", Data: []byte("2")})
		}), "openstack/content/a.b.c and openstack/content/a_b.c both become openstack/content/a_b.c"},
		"content_path with no content": {mutate(t, func(d *render.Drive) {
			setMeta(t, d, func(m map[string]any) {
				m["files"] = append(m["files"].([]any), map[string]any{"path": "/etc/motd", "content_path": "/content/0009"})
			})
		}), `files[3] (/etc/motd): content_path "/content/0009" has no content on the drive`},
		"content without bytes": {mutate(t, func(d *render.Drive) { d.Content[1].Source = "" }),
			"content /content/0001 (/var/tmp/drivelab/apache2.tar.gz) has no source file for package apache2.tar.gz"},
		"missing uuid": {mutate(t, func(d *render.Drive) {
			setMeta(t, d, func(m map[string]any) { delete(m, "uuid") })
		}), "openstack/latest/meta_data.json has no uuid"},
		"invalid meta_data JSON": {mutate(t, func(d *render.Drive) { d.MetaData = []byte(`{"uuid": "x",}`) }),
			"openstack/latest/meta_data.json is not valid JSON"},
		"invalid network_data JSON": {mutate(t, func(d *render.Drive) { d.NetworkData = []byte(`{"links": [}`) }),
			"openstack/latest/network_data.json is not valid JSON"},
		"empty vendor_data": {mutate(t, func(d *render.Drive) { d.VendorData = nil }),
			"openstack/latest/vendor_data.json is not valid JSON: it is empty"},
		"foreign MAC": {mutate(t, func(d *render.Drive) {
			d.NetworkData = bytes.Replace(d.NetworkData, []byte("52:54:00:64:00:1b"), []byte("52:54:00:64:00:99"), 1)
		}), `link "eth0" has MAC 52:54:00:64:00:99 but the node's NIC is 52:54:00:64:00:1b`},
		"name the writer changes": {mutate(t, func(d *render.Drive) { d.Content[2].ContentPath = "/content/Index.HTML" }),
			"openstack/content/Index.HTML would be written as openstack/content/index.html"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			err := configdrive.Build(context.Background(), c.drive, filepath.Join(dir, "web01.iso"))
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "node web01") {
				t.Fatalf("error = %v\nwant it to name node web01 and contain %q", err, c.want)
			}
			if left, _ := os.ReadDir(dir); len(left) != 0 {
				t.Errorf("a refused drive left %v behind", left)
			}
		})
	}
}

func TestBuildRefusesMissingSource(t *testing.T) {
	d := mutate(t, func(d *render.Drive) { d.Content[1].Source = "/nonexistent/apache2.tar.gz" })
	dir := t.TempDir()
	err := configdrive.Build(context.Background(), d, filepath.Join(dir, "web01.iso"))
	if err == nil || !strings.Contains(err.Error(), "/nonexistent/apache2.tar.gz") {
		t.Fatalf("error = %v", err)
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Errorf("left %v behind", left)
	}
}

// cancelAfter is a context whose Err turns to Canceled after n calls, to
// interrupt Build deterministically in the middle of writing.
type cancelAfter struct {
	context.Context
	n int
}

func (c *cancelAfter) Err() error {
	if c.n--; c.n < 0 {
		return context.Canceled
	}
	return nil
}

// An interrupted build leaves the previous image as it was and no temporary file.
func TestInterruptedBuildLeavesNoHalfImage(t *testing.T) {
	d := drives(t, "debian12", 8<<20)[2]
	dir := t.TempDir()
	out := filepath.Join(dir, "web01.iso")
	if err := os.WriteFile(out, []byte("previous image"), 0o644); err != nil {
		t.Fatal(err)
	}
	err := configdrive.Build(&cancelAfter{Context: context.Background(), n: 1000}, d, out)
	if err != context.Canceled && !strings.Contains(err.Error(), context.Canceled.Error()) {
		t.Fatalf("error = %v, want context.Canceled", err)
	}
	if b, _ := os.ReadFile(out); string(b) != "previous image" {
		t.Errorf("the previous image was changed")
	}
	if left, _ := os.ReadDir(dir); len(left) != 1 {
		t.Errorf("dir holds %v, want only the previous image", left)
	}
}

// Package files are streamed: building a drive with a 64 MiB package must
// not allocate anything near its size.
func TestBuildStreamsLargeFiles(t *testing.T) {
	const size = 64 << 20
	d := drives(t, "debian12", 0)[1] // haproxy
	big := filepath.Join(t.TempDir(), "haproxy.tar.gz")
	if err := os.Truncate(must(os.Create(big)).Name(), size); err != nil {
		t.Fatal(err)
	}
	d.Content[1].Source = big
	iso := filepath.Join(t.TempDir(), "haproxy.iso")

	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	if err := configdrive.Build(context.Background(), d, iso); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 8<<20 {
		t.Errorf("Build allocated %d MiB for a %d MiB package: it is not streaming", alloc>>20, size>>20)
	}

	im, err := configdrive.Read(iso)
	if err != nil {
		t.Fatal(err)
	}
	defer im.Close()
	h := sha256.New()
	n, err := io.Copy(h, im.Files["openstack/content/0001"].Open())
	zeros := sha256.Sum256(make([]byte, size))
	if err != nil || n != size || !bytes.Equal(h.Sum(nil), zeros[:]) {
		t.Errorf("package read back: %d bytes, err %v, digest mismatch %v", n, err, !bytes.Equal(h.Sum(nil), zeros[:]))
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func TestWriteAllManifest(t *testing.T) {
	ds := drives(t, "debian12", 0)
	dir := t.TempDir()
	manifest, err := configdrive.WriteAll(context.Background(), ds, dir)
	if err != nil {
		t.Fatal(err)
	}
	var onDisk []configdrive.ManifestEntry
	if err := json.Unmarshal(must(os.ReadFile(filepath.Join(dir, configdrive.ManifestFile))), &onDisk); err != nil || !slices.Equal(onDisk, manifest) {
		t.Fatalf("manifest.json = %v (%v), returned %v", onDisk, err, manifest)
	}
	want := map[string]render.File{}
	for _, d := range ds {
		if _, err := os.Stat(filepath.Join(dir, d.Node.Name+".iso")); err != nil {
			t.Error(err)
		}
		for _, f := range d.Files() {
			want[d.Node.Name+" "+f.Path] = f
		}
	}
	for _, e := range manifest {
		f, ok := want[e.Node+" "+e.Path]
		if !ok {
			t.Errorf("manifest lists %s %s, which no drive has", e.Node, e.Path)
			continue
		}
		delete(want, e.Node+" "+e.Path)
		sum := sha256.Sum256(fileBytes(t, f))
		if e.Image != e.Node+".iso" || e.Size != int64(len(fileBytes(t, f))) || e.SHA256 != hex.EncodeToString(sum[:]) {
			t.Errorf("manifest entry %+v does not match the drive's file", e)
		}
	}
	if len(want) != 0 {
		t.Errorf("manifest misses %v", want)
	}
}

// A failing drive leaves no images of the same call behind.
func TestWriteAllRemovesItsImagesOnFailure(t *testing.T) {
	ds := drives(t, "debian12", 0)
	ds[3].MetaData = []byte("{")
	dir := t.TempDir()
	if _, err := configdrive.WriteAll(context.Background(), ds, dir); err == nil || !strings.Contains(err.Error(), "node web02") {
		t.Fatalf("error = %v, want one naming node web02", err)
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Errorf("left %v behind", left)
	}
}

func TestReadRefusesTruncatedImage(t *testing.T) {
	iso := filepath.Join(t.TempDir(), "web01.iso")
	if err := configdrive.Build(context.Background(), drives(t, "debian12", 0)[2], iso); err != nil {
		t.Fatal(err)
	}
	st := must(os.Stat(iso))
	if err := os.Truncate(iso, st.Size()-2048); err != nil {
		t.Fatal(err)
	}
	if _, err := configdrive.Read(iso); err == nil || !strings.Contains(err.Error(), "truncated") {
		t.Fatalf("error = %v, want truncated", err)
	}
}

// snapshot is a folder's file names and contents, to see that it is unchanged.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{}
	for _, e := range entries {
		files[e.Name()] = string(must(os.ReadFile(filepath.Join(dir, e.Name()))))
	}
	return files
}

// A failed or interrupted WriteAll leaves a folder that held drives exactly
// as it was, and nothing beside it.
func TestWriteAllIsAllOrNothing(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "drives")
	if _, err := configdrive.WriteAll(context.Background(), drives(t, "debian12", 0), dir); err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, dir)
	broken := drives(t, "debian12", 4<<20)
	broken[3].MetaData = []byte("{")
	for name, run := range map[string]func() error{
		"a drive fails": func() error {
			_, err := configdrive.WriteAll(context.Background(), broken, dir)
			return err
		},
		"interrupted": func() error {
			_, err := configdrive.WriteAll(&cancelAfter{Context: context.Background(), n: 3000}, broken[:3], dir)
			return err
		},
	} {
		err := run()
		if err == nil {
			t.Fatalf("%s: no error", name)
		}
		if strings.Contains(err.Error(), ".drives.new-") {
			t.Errorf("%s: the message names the temporary folder, not %s: %v", name, dir, err)
		}
		after := snapshot(t, dir)
		if len(after) != len(before) {
			t.Errorf("%s: the folder holds %d files, had %d", name, len(after), len(before))
		}
		for f, data := range before {
			if after[f] != data {
				t.Errorf("%s: %s changed", name, f)
			}
		}
		if left, _ := os.ReadDir(parent); len(left) != 1 {
			t.Errorf("%s: %v beside the folder, want only drives", name, left)
		}
	}
}

// Drives of nodes no longer rendered are reported by Stale and removed.
func TestWriteAllRemovesStaleDrives(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "drives")
	ds := drives(t, "debian12", 0)
	if _, err := configdrive.WriteAll(context.Background(), ds, dir); err != nil {
		t.Fatal(err)
	}
	if stale := configdrive.Stale(dir, ds[:3]); len(stale) != 1 || stale[0] != "web02.iso" {
		t.Fatalf("Stale = %v, want [web02.iso]", stale)
	}
	if _, err := configdrive.WriteAll(context.Background(), ds[:3], dir); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "web02.iso")); !os.IsNotExist(err) {
		t.Errorf("web02.iso survived: %v", err)
	}
	if manifest := string(must(os.ReadFile(filepath.Join(dir, configdrive.ManifestFile)))); strings.Contains(manifest, "web02") {
		t.Errorf("the manifest still names web02")
	}
}

// A folder holding anything but the drives its manifest lists is refused,
// ISOs included (the user's own installer images): replacing it would lose them.
func TestWriteAllRefusesForeignFiles(t *testing.T) {
	for name, files := range map[string][]string{
		"notes":       {"notes.txt"},
		"foreign ISO": {"debian-12.8.0-amd64-netinst.iso", "web01.iso"},
	} {
		dir := filepath.Join(t.TempDir(), "out")
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			if err := os.WriteFile(filepath.Join(dir, f), []byte("mine"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		_, err := configdrive.WriteAll(context.Background(), drives(t, "debian12", 0), dir)
		if err == nil || !strings.Contains(err.Error(), "holds files e2e drives did not write ("+strings.Join(files, ", ")+"; it has no manifest.json)") {
			t.Fatalf("%s: error = %v", name, err)
		}
		if got := snapshot(t, dir); len(got) != len(files) {
			t.Errorf("%s: the folder holds %v, want only %v", name, got, files)
		}
		for _, f := range files {
			if got := snapshot(t, dir)[f]; got != "mine" {
				t.Errorf("%s: %s is %q", name, f, got)
			}
		}
		if left, _ := os.ReadDir(filepath.Dir(dir)); len(left) != 1 {
			t.Errorf("%s: %v beside the folder, want nothing", name, left)
		}
	}
}

// An ISO put beside drives WriteAll wrote is not its manifest's, and is kept.
func TestWriteAllRefusesAnISONotInItsManifest(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "drives")
	ds := drives(t, "debian12", 0)
	if _, err := configdrive.WriteAll(context.Background(), ds, dir); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "old.iso"), []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	if stale := configdrive.Stale(dir, ds[:3]); len(stale) != 1 || stale[0] != "web02.iso" {
		t.Errorf("Stale = %v, want [web02.iso] (old.iso is not a drive written there)", stale)
	}
	_, err := configdrive.WriteAll(context.Background(), ds, dir)
	if err == nil || !strings.Contains(err.Error(), "(old.iso; its manifest.json does not list them)") {
		t.Fatalf("error = %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "old.iso")); err != nil {
		t.Error(err)
	}
}

// A failed WriteAll into a folder whose parents it had to create takes them
// away again.
func TestWriteAllFailureLeavesNoParents(t *testing.T) {
	root := t.TempDir()
	broken := drives(t, "debian12", 0)
	broken[1].MetaData = []byte("{")
	if _, err := configdrive.WriteAll(context.Background(), broken, filepath.Join(root, "a", "b", "drives")); err == nil {
		t.Fatal("no error")
	}
	if left, _ := os.ReadDir(root); len(left) != 0 {
		t.Errorf("left behind: %v", left)
	}
}

// Writers into one folder take turns on a lock file beside it.
func TestWriteAllWaitsForAnotherWriter(t *testing.T) {
	parent := t.TempDir()
	unlock, _, err := lockfile.LockTransient(context.Background(), filepath.Join(parent, ".drives.lock"), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	_, err = configdrive.WriteAll(ctx, drives(t, "debian12", 0), filepath.Join(parent, "drives"))
	if err == nil || !strings.Contains(err.Error(), "waiting for lock") {
		t.Fatalf("wrote beside another writer: %v", err)
	}
	unlock()
	if _, err := configdrive.WriteAll(context.Background(), drives(t, "debian12", 0), filepath.Join(parent, "drives")); err != nil {
		t.Fatal(err)
	}
	if left, _ := os.ReadDir(parent); len(left) != 1 {
		t.Errorf("%v beside the drives, want nothing", left)
	}
}

// An output folder given as a symlink stays a symlink to the new drives.
func TestWriteAllKeepsASymlinkedFolder(t *testing.T) {
	parent := t.TempDir()
	real, link := filepath.Join(parent, "real"), filepath.Join(parent, "link")
	if err := os.Mkdir(real, 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	if _, err := configdrive.WriteAll(context.Background(), drives(t, "debian12", 0), link); err != nil {
		t.Fatal(err)
	}
	st, err := os.Lstat(link)
	if err != nil || st.Mode()&os.ModeSymlink == 0 {
		t.Fatalf("link is no longer a symlink: %v %v", st, err)
	}
	if st, err := os.Stat(real); err != nil || st.Mode().Perm() != 0o750 {
		t.Errorf("the folder's mode is not kept: %v %v", st, err)
	}
	if _, err := os.Stat(filepath.Join(real, "web01.iso")); err != nil {
		t.Error(err)
	}
}
