package render_test

import (
	"encoding/base64"
	"encoding/json"
	"maps"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/drivelab/drivelab/framework/render"
)

// Nova's per-version rules, written out as its metadata code has them
// (docs/drive-layouts.md cites it), independently of layout.go's table.
var (
	novaFolderFiles = map[string][]string{
		"2012-08-10": {"meta_data.json", "user_data"},
		"2013-04-04": {"meta_data.json", "user_data"},
		"2013-10-17": {"meta_data.json", "user_data", "vendor_data.json"},
		"2015-10-15": {"meta_data.json", "network_data.json", "user_data", "vendor_data.json"},
		"2016-06-30": {"meta_data.json", "network_data.json", "user_data", "vendor_data.json"},
		"2016-10-06": {"meta_data.json", "network_data.json", "user_data", "vendor_data.json", "vendor_data2.json"},
		"2017-02-22": {"meta_data.json", "network_data.json", "user_data", "vendor_data.json", "vendor_data2.json"},
		"2018-08-27": {"meta_data.json", "network_data.json", "user_data", "vendor_data.json", "vendor_data2.json"},
		"2020-10-14": {"meta_data.json", "network_data.json", "user_data", "vendor_data.json", "vendor_data2.json"},
		"2025-04-04": {"meta_data.json", "network_data.json", "user_data", "vendor_data.json", "vendor_data2.json"},
		"latest":     {"meta_data.json", "network_data.json", "user_data", "vendor_data.json", "vendor_data2.json"},
	}
	novaAlways  = []string{"availability_zone", "files", "hostname", "keys", "launch_index", "name", "public_keys", "uuid"}
	novaMetaKey = map[string][]string{
		"2012-08-10": novaAlways,
		"2013-04-04": append(slices.Clone(novaAlways), "random_seed"),
		"2013-10-17": append(slices.Clone(novaAlways), "random_seed"),
		"2015-10-15": append(slices.Clone(novaAlways), "random_seed", "project_id"),
		"2016-06-30": append(slices.Clone(novaAlways), "random_seed", "project_id", "devices"),
		"2016-10-06": append(slices.Clone(novaAlways), "random_seed", "project_id", "devices"),
		"2017-02-22": append(slices.Clone(novaAlways), "random_seed", "project_id", "devices"),
		"2018-08-27": append(slices.Clone(novaAlways), "random_seed", "project_id", "devices"),
		"2020-10-14": append(slices.Clone(novaAlways), "random_seed", "project_id", "devices", "dedicated_cpus"),
		"2025-04-04": append(slices.Clone(novaAlways), "random_seed", "project_id", "devices", "dedicated_cpus"),
		"latest":     append(slices.Clone(novaAlways), "random_seed", "project_id", "devices", "dedicated_cpus"),
	}
)

func novaReference(t *testing.T) ([]render.Drive, *render.Access) {
	t.Helper()
	topo := reference(t)
	a := &render.Access{AuthorizedKeys: []string{"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHarnessKeyForTheNovaLayoutTest drivelab-run"}, HostKeys: map[string]render.HostKey{}}
	for _, n := range topo.Nodes {
		a.HostKeys[n.Name] = newHostKey(t)
	}
	ds, err := renderRef(t, render.Input{Topology: topo, Flavor: "debian12-nova", Access: a})
	if err != nil {
		t.Fatal(err)
	}
	return ds, a
}

// Every folder holds the files its version has, and meta_data.json the keys
// and types Nova writes for it.
func TestNovaLayout(t *testing.T) {
	ds, a := novaReference(t)
	key := a.AuthorizedKeys[0]
	seeds := map[string]string{}
	for _, d := range ds {
		if d.Layout != render.LayoutNova {
			t.Fatalf("%s: layout %q", d.Node.Name, d.Layout)
		}
		folders := map[string][]string{}
		data := map[string][]byte{}
		for _, f := range d.Files() {
			data[f.Path] = f.Data
			dir, name := path.Split(f.Path)
			folders[strings.TrimSuffix(dir, "/")] = append(folders[strings.TrimSuffix(dir, "/")], name)
		}
		for v, want := range novaFolderFiles {
			got := folders["openstack/"+v]
			slices.Sort(got)
			if !slices.Equal(got, want) {
				t.Errorf("%s: openstack/%s/ holds %v, want %v", d.Node.Name, v, got, want)
			}
		}
		for _, v := range []string{"2009-04-04", "latest"} {
			if got := folders["ec2/"+v]; !slices.Equal(got, []string{"user-data", "meta-data.json"}) {
				t.Errorf("%s: ec2/%s/ holds %v", d.Node.Name, v, got)
			}
			var ec2 map[string]any
			if err := json.Unmarshal(data["ec2/"+v+"/meta-data.json"], &ec2); err != nil {
				t.Fatal(err)
			}
			if ec2["hostname"] != d.Node.FQDN || ec2["ami-launch-index"] != 0.0 || ec2["local-ipv4"] != d.Node.IP.String() ||
				!reflect.DeepEqual(ec2["public-keys"], map[string]any{"0": map[string]any{"openssh-key": key}}) ||
				!reflect.DeepEqual(ec2["placement"], map[string]any{"availability-zone": "nova"}) {
				t.Errorf("%s: ec2/%s/meta-data.json = %v", d.Node.Name, v, ec2)
			}
		}
		if n := len(folders) - len(novaFolderFiles) - 2 - 1; n != 0 { // ec2 x2, openstack/content
			t.Errorf("%s: %d folders more than Nova writes: %v", d.Node.Name, n, slices.Sorted(maps.Keys(folders)))
		}
		for v, want := range novaMetaKey {
			var md map[string]any
			if err := json.Unmarshal(data["openstack/"+v+"/meta_data.json"], &md); err != nil {
				t.Fatalf("%s: openstack/%s/meta_data.json: %v", d.Node.Name, v, err)
			}
			if got := slices.Sorted(maps.Keys(md)); !slices.Equal(got, slices.Sorted(slices.Values(want))) {
				t.Errorf("%s: openstack/%s/meta_data.json keys %v, want %v", d.Node.Name, v, got, slices.Sorted(slices.Values(want)))
			}
			if md["uuid"] != d.Node.UUID || md["hostname"] != d.Node.FQDN || md["name"] != d.Node.InstanceName ||
				md["launch_index"] != 0.0 || md["availability_zone"] != "nova" ||
				!reflect.DeepEqual(md["public_keys"], map[string]any{"drivelab": key}) ||
				!reflect.DeepEqual(md["keys"], []any{map[string]any{"name": "drivelab", "type": "ssh", "data": key}}) {
				t.Errorf("%s: openstack/%s/meta_data.json = %v", d.Node.Name, v, md)
			}
			if s, ok := md["random_seed"].(string); ok {
				seed, err := base64.StdEncoding.DecodeString(s)
				if err != nil || len(seed) != 512 {
					t.Errorf("%s: openstack/%s random_seed: %d bytes (%v), want 512", d.Node.Name, v, len(seed), err)
				}
				if other, ok := seeds[d.Node.Name]; ok && other != s {
					t.Errorf("%s: openstack/%s random_seed differs from the drive's other folders'", d.Node.Name, v)
				}
				seeds[d.Node.Name] = s
			}
			if id, ok := md["project_id"].(string); ok && len(id) != 32 {
				t.Errorf("%s: project_id %q, want 32 hex digits", d.Node.Name, id)
			}
			for _, k := range []string{"devices", "dedicated_cpus"} {
				if list, ok := md[k]; ok && !reflect.DeepEqual(list, []any{}) {
					t.Errorf("%s: openstack/%s %s = %v, want []", d.Node.Name, v, k, list)
				}
			}
		}
		var vd2 map[string]json.RawMessage
		if err := json.Unmarshal(data[render.VendorData2Path], &vd2); err != nil || len(vd2) != 1 || !jsonEqual(t, vd2["static"], d.VendorData) {
			t.Errorf("%s: vendor_data2.json = %s (%v), want {\"static\": vendor_data.json}", d.Node.Name, data[render.VendorData2Path], err)
		}
		for _, v := range []string{"2012-08-10", "2018-08-27"} {
			if string(data["openstack/"+v+"/user_data"]) != string(d.UserData) || d.Templates["openstack/"+v+"/user_data"] != d.Templates[render.UserDataPath] {
				t.Errorf("%s: openstack/%s/user_data is not latest's, from its template", d.Node.Name, v)
			}
		}
	}
	if len(seeds) != len(ds) || seeds["web01"] == seeds["web02"] {
		t.Errorf("random_seed: want one per node, got %d for %d nodes, web01's = web02's: %v", len(seeds), len(ds), seeds["web01"] == seeds["web02"])
	}
	// Rendered again, the drives are the same: the seed comes from the uuid.
	again, _ := novaReference(t)
	if again[2].LayoutFiles[0].Path != ds[2].LayoutFiles[0].Path || !sameFiles(withoutKeys(again[2]), withoutKeys(ds[2])) {
		t.Error("two renderings of web01's nova drive differ")
	}
}

// withoutKeys drops what depends on the access (new keys each time).
func withoutKeys(d render.Drive) render.Drive {
	d.VendorData = nil
	d.LayoutFiles = slices.DeleteFunc(slices.Clone(d.LayoutFiles), func(f render.File) bool {
		return strings.Contains(f.Path, "vendor_data")
	})
	return d
}

func jsonEqual(t *testing.T, a, b []byte) bool {
	t.Helper()
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}

// Without harness access (a golden listing) there is no key to list.
func TestNovaLayoutWithoutAccess(t *testing.T) {
	ds, err := renderRef(t, render.Input{Flavor: "debian12-nova"})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range ds[0].Files() {
		if strings.Contains(string(f.Data), "public_keys") || strings.Contains(string(f.Data), `"keys"`) || strings.Contains(string(f.Data), "public-keys") {
			t.Errorf("%s names keys without an access:\n%s", f.Path, f.Data)
		}
	}
}

// The nova layout's meta_data.json is the harness's, per version: a
// template for it is refused, naming it and what to do.
func TestNovaLayoutRefusesAMetaDataTemplate(t *testing.T) {
	overlay := writeFiles(t, map[string]string{"nodes/web01/" + render.MetaDataTemplate: `{"uuid": {{json .Node.UUID}}}`})
	_, err := renderRef(t, render.Input{Flavor: "debian12-nova", Overlay: overlay})
	want := "node web01: " + overlay + "/nodes/web01/" + render.MetaDataTemplate + ": flavor debian12-nova has layout: nova"
	if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "remove "+render.MetaDataTemplate) {
		t.Fatalf("error = %v, want %q", err, want)
	}
	if strings.Count(err.Error(), render.MetaDataTemplate+": flavor") != 1 {
		t.Errorf("want web01 alone refused: %v", err)
	}
}

// Redacted leaves no private key in any folder of a nova drive.
func TestNovaLayoutRedacted(t *testing.T) {
	ds, _ := novaReference(t)
	r, paths := render.Redacted(ds[2])
	for _, f := range r.Files() {
		if strings.Contains(string(f.Data), "PRIVATE KEY-----") {
			t.Errorf("%s still holds a private key", f.Path)
		}
	}
	for _, p := range []string{render.VendorDataPath, render.VersionPath("2018-08-27", "vendor_data.json"), render.VendorData2Path} {
		if !slices.Contains(paths, p) {
			t.Errorf("redacted %v, want %s among them", paths, p)
		}
	}
	if !strings.Contains(string(ds[2].VendorData), "PRIVATE KEY-----") {
		t.Error("Redacted changed the drive it was given")
	}
}

// A flavor with templates_from takes the sibling's files, packages and
// templates, its own templates first; a bad templates_from or layout is
// refused naming flavor.yaml's line and what to write.
func TestTemplatesFrom(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"base/flavor.yaml":  "files:\n  hosts: {path: /etc/hosts, template: hosts.tmpl}\npackages: {p: p.deb}\n",
		"base/hosts.tmpl":   "base",
		"nova/flavor.yaml":  "templates_from: base\nlayout: nova\n",
		"own/flavor.yaml":   "templates_from: base\nfiles:\n  page: {path: /var/www/index.html, template: page.tmpl}\n",
		"own/page.tmpl":     "own",
		"self/flavor.yaml":  "templates_from: self\n",
		"gone/flavor.yaml":  "templates_from: nosuch\n",
		"chain/flavor.yaml": "templates_from: nova\n",
		"path/flavor.yaml":  "templates_from: ../base\n",
		"lay/flavor.yaml":   "files: {}\nlayout: openstack\n",
		"miss/flavor.yaml":  "templates_from: base\nfiles:\n  page: {path: /var/www/index.html, template: page.tmpl}\n",
	})
	fl, err := render.LoadFlavor(dir, "nova")
	if err != nil {
		t.Fatal(err)
	}
	if fl.Layout != render.LayoutNova || !reflect.DeepEqual(fl.Files, map[string]render.FileSpec{"hosts": {Path: "/etc/hosts", Template: "hosts.tmpl"}}) ||
		fl.Packages["p"] != "p.deb" || !slices.Equal(fl.Dirs(), []string{dir + "/nova", dir + "/base"}) {
		t.Errorf("nova = %+v, dirs %v", fl, fl.Dirs())
	}
	if base, err := render.LoadFlavor(dir, "base"); err != nil || base.Layout != render.LayoutLatest || len(base.Dirs()) != 1 {
		t.Errorf("base: %+v, %v: want layout latest and its own folder only", base, err)
	}
	own, err := render.LoadFlavor(dir, "own")
	if err != nil || len(own.Files) != 1 || own.Packages["p"] != "p.deb" {
		t.Errorf("own: %+v, %v: want its own files, the base's packages", own, err)
	}
	for flavor, want := range map[string]string{
		"self":  `flavor.yaml:1: templates_from "self" must name another flavor`,
		"gone":  `flavor.yaml:1: templates_from "nosuch": flavor "nosuch": ` + dir + "/nosuch/flavor.yaml does not exist",
		"chain": `flavor.yaml:1: templates_from "nova": that flavor takes its templates from "base" itself; name "base" here instead`,
		"path":  `flavor.yaml:1: templates_from "../base" must name another flavor`,
		"lay":   `flavor.yaml:2: layout "openstack": say latest (openstack/latest only, the default) or nova`,
		"miss":  "template " + dir + "/miss/page.tmpl does not exist, nor " + dir + "/base/page.tmpl (templates_from: base)",
	} {
		if _, err := render.LoadFlavor(dir, flavor); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error = %v, want %q", flavor, err, want)
		}
	}
}

// debian12-nova renders debian12's templates, a template of its own first.
func TestTemplatesFromRendersTheSiblingsTemplates(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"debian12", "debian12-nova"} {
		if err := os.CopyFS(filepath.Join(dir, f), os.DirFS(filepath.Join(templatesDir, f))); err != nil {
			t.Fatal(err)
		}
	}
	base, err := renderRef(t, render.Input{TemplatesDir: dir, Flavor: "debian12"})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "debian12-nova", "index.html.tmpl"), []byte("nova's own {{.Node.Name}}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	nova, err := renderRef(t, render.Input{TemplatesDir: dir, Flavor: "debian12-nova"})
	if err != nil {
		t.Fatal(err)
	}
	pages := 0
	for i, d := range nova {
		if string(d.UserData) != string(base[i].UserData) || d.Templates[render.UserDataPath] != base[i].Templates[render.UserDataPath] {
			t.Errorf("%s: user_data from %s, want debian12's %s", d.Node.Name, d.Templates[render.UserDataPath], base[i].Templates[render.UserDataPath])
		}
		for _, c := range d.Content {
			if c.Name != "index-page" {
				continue
			}
			pages++
			if string(c.Data) != "nova's own "+d.Node.Name+"\n" {
				t.Errorf("%s: page %q, want debian12-nova's own template", d.Node.Name, c.Data)
			}
		}
	}
	if pages != 2 {
		t.Errorf("%d pages rendered, want web01's and web02's", pages)
	}
}
