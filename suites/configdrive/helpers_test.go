package configdrive_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"

	"github.com/kdomanski/iso9660"
	"golang.org/x/crypto/ssh"

	"github.com/drivelab/drivelab/framework/configdrive"
	"github.com/drivelab/drivelab/framework/render"
	"github.com/drivelab/drivelab/framework/topology"
)

const (
	topologyFile = "../../fixtures/topology.yaml"
	templatesDir = "../../fixtures/templates"
	seedDir      = "../../fixtures/seed"
	// Debian's cloud-init is importable from the system Python only; a
	// python3 earlier on PATH may be another one.
	systemPython = "/usr/bin/python3"
	readerScript = "testdata/read_config_drive.py"
)

// fileBytes is a drive file's content, from memory or its source file.
func fileBytes(f render.File) ([]byte, error) {
	if f.Source == "" {
		return f.Data, nil
	}
	return os.ReadFile(f.Source)
}

// roundTrip compares every file of the image with the drive it was built from.
func roundTrip(iso string, d render.Drive) error {
	im, err := configdrive.Read(iso)
	if err != nil {
		return err
	}
	defer im.Close()
	var errs []error
	if im.Label != configdrive.Label {
		errs = append(errs, fmt.Errorf("label %q, want %q", im.Label, configdrive.Label))
	}
	want := map[string]bool{}
	for _, f := range d.Files() {
		want[f.Path] = true
		wrote, err := fileBytes(f)
		if err != nil {
			return err
		}
		got, ok := im.Files[f.Path]
		if !ok {
			errs = append(errs, fmt.Errorf("%s is missing from the image", f.Path))
			continue
		}
		read, err := got.Bytes()
		if err != nil || !bytes.Equal(read, wrote) {
			errs = append(errs, fmt.Errorf("%s: read back %d bytes (%v), wrote %d", f.Path, len(read), err, len(wrote)))
		}
	}
	for _, name := range im.Names() {
		if !want[name] {
			errs = append(errs, fmt.Errorf("the image holds %s, which the drive does not", name))
		}
	}
	return errors.Join(errs...)
}

// blkidLabel is what blkid, as ds-identify runs it, says about the image.
func blkidLabel(ctx context.Context, iso string) (label, fsType string, err error) {
	out, err := exec.CommandContext(ctx, "blkid", "-p", "-o", "export", iso).Output()
	if err != nil {
		return "", "", fmt.Errorf("blkid -p %s: %w", iso, err)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if v, ok := strings.CutPrefix(line, "LABEL="); ok {
			label = v
		}
		if v, ok := strings.CutPrefix(line, "TYPE="); ok {
			fsType = v
		}
	}
	return label, fsType, nil
}

// cloudInitView is what cloud-init's config-drive reader makes of a drive
// (see testdata/read_config_drive.py).
type cloudInitView struct {
	CloudInit string `json:"cloud_init"`
	// SelectedVersion is the version folder the reader read; KnownVersions
	// are the ones it knows, oldest first.
	SelectedVersion string   `json:"selected_version"`
	KnownVersions   []string `json:"known_versions"`
	// MetaData is meta_data.json as the reader returns it, random_seed as
	// the length of what it decoded.
	MetaData      map[string]any    `json:"metadata"`
	InstanceID    string            `json:"instance_id"`
	LocalHostname string            `json:"local_hostname"`
	Files         map[string]string `json:"files"` // guest path -> sha256
	UserData      string            `json:"userdata"`
	VendorConfig  map[string]any    `json:"vendor_config"`
	Network       *struct {
		Config []struct {
			Type       string `json:"type"`
			Name       string `json:"name"`
			MACAddress string `json:"mac_address"`
			Subnets    []struct {
				Type    string `json:"type"`
				Address string `json:"address"`
				Netmask string `json:"netmask"`
				Gateway string `json:"gateway"`
				Routes  []struct {
					Network string `json:"network"`
					Netmask string `json:"netmask"`
					Gateway string `json:"gateway"`
				} `json:"routes"`
			} `json:"subnets"`
		} `json:"config"`
	} `json:"network"`
	ENI string `json:"eni"`
}

// readWithCloudInit extracts the image with our reader and has the host's
// cloud-init read the tree, as it reads a mounted drive on the guest.
func readWithCloudInit(ctx context.Context, iso, mac string) (cloudInitView, error) {
	var v cloudInitView
	im, err := configdrive.Read(iso)
	if err != nil {
		return v, err
	}
	defer im.Close()
	dir, err := os.MkdirTemp("", "drivelab-cloudinit-")
	if err != nil {
		return v, err
	}
	defer os.RemoveAll(dir)
	if err := im.Extract(dir); err != nil {
		return v, err
	}
	cmd := exec.CommandContext(ctx, systemPython, readerScript, dir, mac)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return v, fmt.Errorf("cloud-init's reader on %s: %w\n%s", iso, err, stderr.String())
	}
	return v, json.Unmarshal(out, &v)
}

// checkCloudInitView compares cloud-init's reading of a drive with the
// topology's node and the drive's files.
func checkCloudInitView(v cloudInitView, n topology.Node, nw topology.Network, d render.Drive, access *render.Access) error {
	var errs []error
	fail := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if v.InstanceID != n.UUID {
		fail("instance-id %q, want the node's uuid %s", v.InstanceID, n.UUID)
	}
	if v.LocalHostname != n.FQDN {
		fail("hostname %q, want %s", v.LocalHostname, n.FQDN)
	}
	files := map[string]string{}
	for _, c := range d.Content {
		b, err := fileBytes(render.File{Data: c.Data, Source: c.Source})
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		files[c.GuestPath] = hex.EncodeToString(sum[:])
	}
	if !reflect.DeepEqual(v.Files, files) {
		fail("files %v, want %v", v.Files, files)
	}
	if v.UserData != string(d.UserData) {
		fail("user_data %q, want %q", v.UserData, d.UserData)
	}
	if access != nil {
		want := map[string]any{
			"disable_root":        false,
			"ssh_authorized_keys": []any{access.AuthorizedKeys[0]},
			"ssh_keys":            map[string]any{"ed25519_private": access.HostKeys[n.Name].Private, "ed25519_public": access.HostKeys[n.Name].Public},
			"ssh_deletekeys":      true,
		}
		if !reflect.DeepEqual(v.VendorConfig, want) {
			fail("vendor cloud-config %v, want %v", v.VendorConfig, want)
		}
	}
	if d.NetworkData == nil {
		if v.Network != nil {
			fail("a network config without network_data.json: %+v", v.Network)
		}
		return errors.Join(errs...)
	}
	if v.Network == nil || len(v.Network.Config) != 1 {
		fail("network config %+v, want one physical NIC", v.Network)
		return errors.Join(errs...)
	}
	nic := v.Network.Config[0]
	mask := netmask(nw)
	if nic.Type != "physical" || nic.Name != "eth0" || nic.MACAddress != n.MAC || len(nic.Subnets) != 1 {
		fail("NIC %+v, want physical eth0 with MAC %s and one subnet", nic, n.MAC)
		return errors.Join(errs...)
	}
	sn := nic.Subnets[0]
	if sn.Type != "static" || sn.Address != n.IP.String() || sn.Netmask != mask {
		fail("subnet %+v, want static %s netmask %s", sn, n.IP, mask)
	}
	defaultRoute := sn.Gateway
	for _, r := range sn.Routes {
		if r.Network == "0.0.0.0" && r.Netmask == "0.0.0.0" {
			defaultRoute = r.Gateway
		}
	}
	if defaultRoute != nw.Gateway.String() {
		fail("default route via %q, want via %s", defaultRoute, nw.Gateway)
	}
	// ifupdown applies "gateway"; "route add" lines need net-tools, which
	// the image lacks, and fail silently (field notes).
	if !strings.Contains(v.ENI, "address "+n.Prefix(nw).String()) || !strings.Contains(v.ENI, "gateway "+nw.Gateway.String()) || strings.Contains(v.ENI, "route add") {
		fail("cloud-init's ifupdown config does not set address %s and gateway %s by itself:\n%s", n.Prefix(nw), nw.Gateway, v.ENI)
	}
	return errors.Join(errs...)
}

func netmask(nw topology.Network) string {
	m := ^uint32(0) << (32 - nw.CIDR.Bits())
	return fmt.Sprintf("%d.%d.%d.%d", m>>24, m>>16&0xff, m>>8&0xff, m&0xff)
}

// testAccess is a harness access with fresh keys, as a run would make one.
func testAccess(t *topology.Topology) (*render.Access, error) {
	key := func() (render.HostKey, error) {
		pub, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return render.HostKey{}, err
		}
		block, err := ssh.MarshalPrivateKey(priv, "")
		if err != nil {
			return render.HostKey{}, err
		}
		sp, err := ssh.NewPublicKey(pub)
		if err != nil {
			return render.HostKey{}, err
		}
		return render.HostKey{Private: string(pem.EncodeToMemory(block)), Public: strings.TrimSpace(string(ssh.MarshalAuthorizedKey(sp)))}, nil
	}
	run, err := key()
	if err != nil {
		return nil, err
	}
	a := &render.Access{AuthorizedKeys: []string{run.Public + " drivelab-run"}, HostKeys: map[string]render.HostKey{}}
	for _, n := range t.Nodes {
		if a.HostKeys[n.Name], err = key(); err != nil {
			return nil, err
		}
	}
	return a, nil
}

// The seed's haproxy.cfg with the two lines haproxy -c rejects fixed, as
// fixtures/templates/centos7/haproxy.cfg.tmpl documents.
var seedHAProxyFix = strings.NewReplacer(
	"   stats socket /tmp/sock\n   mode 0666 level user\n", "   stats socket /tmp/sock mode 0666 level user\n",
	"   bind haproxy.cloud.org\n", "   bind haproxy.cloud.org:80\n",
)

// seedFiles is what the seed says node's drive holds (drive path -> bytes).
// web02, absent from the seed, mirrors web01 with its own address, names and uuid.
func seedFiles(t *topology.Topology, node string) (map[string][]byte, error) {
	src, rename := node, func(b []byte) []byte { return b }
	if node == "web02" {
		web01, _ := t.Node("web01")
		web02, _ := t.Node("web02")
		src = "web01"
		r := strings.NewReplacer("web01", "web02", web01.IP.String(), web02.IP.String(), web01.UUID, web02.UUID)
		rename = func(b []byte) []byte { return []byte(r.Replace(string(b))) }
	}
	files := map[string][]byte{}
	root := filepath.Join(seedDir, src)
	err := filepath.WalkDir(root, func(p string, e os.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if rel == "openstack/content/0000" {
			files[rel] = b // the shared hosts file: the same on every node
		} else {
			files[rel] = rename(b)
		}
		return nil
	})
	if node == "haproxy" {
		files["openstack/content/0003"] = []byte(seedHAProxyFix.Replace(string(files["openstack/content/0003"])))
	}
	return files, err
}

// compareWithSeed checks a built drive against the seed's files: bytes for
// everything, except meta_data.json, compared as JSON (the post's spacing
// varies from node to node).
func compareWithSeed(iso string, seed map[string][]byte) error {
	im, err := configdrive.Read(iso)
	if err != nil {
		return err
	}
	defer im.Close()
	var errs []error
	for name, want := range seed {
		f, ok := im.Files[name]
		if !ok {
			errs = append(errs, fmt.Errorf("%s: not on the drive", name))
			continue
		}
		got, err := f.Bytes()
		if err != nil {
			return err
		}
		if name == render.MetaDataPath {
			var g, w any
			if err := errors.Join(json.Unmarshal(got, &g), json.Unmarshal(want, &w)); err != nil {
				return err
			}
			if !reflect.DeepEqual(g, w) {
				errs = append(errs, fmt.Errorf("%s:\n%s\nwant (seed):\n%s", name, got, want))
			}
			continue
		}
		if !bytes.Equal(got, want) {
			errs = append(errs, fmt.Errorf("%s:\n%s\nwant (seed):\n%s", name, got, want))
		}
	}
	return errors.Join(errs...)
}

// writeISO writes an ISO9660 image with the library directly, bypassing
// Build's checks, to give the checks a wrong image.
func writeISO(out, label string, files map[string]string) error {
	w, err := iso9660.NewWriter()
	if err != nil {
		return err
	}
	defer w.Cleanup()
	for name, content := range files {
		if err := w.AddFile(strings.NewReader(content), name); err != nil {
			return err
		}
	}
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	if err := w.WriteTo(f, label); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// linuxNames lists the image's files as a Linux guest sees them: isoinfo
// reads the ISO9660 directory records (not the library that wrote them),
// and each name is translated as Linux's isofs does for a volume without
// Rock Ridge or Joliet (map=normal): lower case, a final ";1" or ".;1"
// dropped, any other ';' shown as '.'.
func linuxNames(ctx context.Context, iso string) ([]string, error) {
	out, err := exec.CommandContext(ctx, "isoinfo", "-l", "-i", iso).Output()
	if err != nil {
		return nil, fmt.Errorf("isoinfo -l -i %s: %w", iso, err)
	}
	var names []string
	dir := ""
	for _, line := range strings.Split(string(out), "\n") {
		if d, ok := strings.CutPrefix(line, "Directory listing of "); ok {
			dir = strings.TrimPrefix(strings.TrimSpace(d), "/")
			continue
		}
		// A file's record: "----------   0    0    0   616 Jan  1 2049 [     30 00]  meta-data.json;1 "
		_, name, ok := strings.Cut(line, "]  ")
		if !strings.HasPrefix(line, "-") || !ok {
			continue
		}
		names = append(names, dir+isofsName(strings.TrimSpace(name)))
	}
	slices.Sort(names)
	return names, nil
}

// isofsName is Linux's isofs_name_translate.
func isofsName(raw string) string {
	s := strings.ToLower(raw)
	switch {
	case strings.HasSuffix(s, ".;1"):
		s = strings.TrimSuffix(s, ".;1")
	case strings.HasSuffix(s, ";1"):
		s = strings.TrimSuffix(s, ";1")
	}
	return strings.ReplaceAll(s, ";", ".")
}

// checkLinuxNames wants the guest to see exactly the drive's paths.
func checkLinuxNames(names []string, d render.Drive) error {
	var want []string
	for _, f := range d.Files() {
		want = append(want, f.Path)
	}
	slices.Sort(want)
	var errs []error
	for _, p := range want {
		if _, found := slices.BinarySearch(names, p); !found {
			errs = append(errs, fmt.Errorf("%s: Linux does not see it under that name", p))
		}
	}
	for _, n := range names {
		if _, found := slices.BinarySearch(want, n); !found {
			errs = append(errs, fmt.Errorf("Linux sees %s, which the drive does not hold", n))
		}
	}
	return errors.Join(errs...)
}

// newestKnown is the newest version folder the drive has that cloud-init
// knows: the one its reader must select ("latest" when none).
func newestKnown(v cloudInitView, d render.Drive) string {
	newest := "latest"
	for _, f := range d.Files() {
		for _, k := range v.KnownVersions {
			if strings.HasPrefix(f.Path, "openstack/"+k+"/") && (newest == "latest" || k > newest) {
				newest = k
			}
		}
	}
	return newest
}

// novaKeysSince are the meta_data.json keys Nova writes from a version on,
// besides those of every version, as its metadata code has them
// (docs/drive-layouts.md).
var novaKeysSince = map[string]string{
	"random_seed": "2013-04-04", "project_id": "2015-10-15", "devices": "2016-06-30", "dedicated_cpus": "2020-10-14",
}

// checkNovaMetaData wants meta_data.json as cloud-init read it from folder
// version to carry Nova's keys for that version, of Nova's types.
func checkNovaMetaData(md map[string]any, version string, n topology.Node, access *render.Access) error {
	var errs []error
	fail := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	want := []string{"availability_zone", "files", "hostname", "launch_index", "name", "uuid"}
	if access != nil {
		want = append(want, "keys", "public_keys")
	}
	for k, since := range novaKeysSince {
		if version >= since {
			want = append(want, k)
		}
	}
	slices.Sort(want)
	var got []string
	for k := range md {
		got = append(got, k)
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		fail("meta_data keys %v, want Nova's for %s: %v", got, version, want)
	}
	if v, ok := md["launch_index"].(float64); !ok || v != 0 {
		fail("launch_index %#v, want the number 0", md["launch_index"])
	}
	for k, w := range map[string]string{"uuid": n.UUID, "hostname": n.FQDN, "name": n.InstanceName, "availability_zone": "nova"} {
		if md[k] != w {
			fail("%s %#v, want %q", k, md[k], w)
		}
	}
	if v, ok := md["random_seed"].(float64); slices.Contains(want, "random_seed") && (!ok || v != 512) {
		fail("random_seed decodes to %v bytes, want 512 (base64 of 512 bytes)", md["random_seed"])
	}
	if id, ok := md["project_id"].(string); slices.Contains(want, "project_id") && (!ok || len(id) != 32 || strings.Trim(id, "0123456789abcdef") != "") {
		fail("project_id %#v, want 32 hex digits", md["project_id"])
	}
	if files, ok := md["files"].([]any); !ok || len(files) == 0 {
		fail("files %#v, want the injected files", md["files"])
	}
	for _, k := range []string{"devices", "dedicated_cpus"} {
		if _, on := md[k]; on && !reflect.DeepEqual(md[k], []any{}) {
			fail("%s %#v, want []", k, md[k])
		}
	}
	if access != nil {
		key := access.AuthorizedKeys[0]
		if !reflect.DeepEqual(md["public_keys"], map[string]any{"drivelab": key}) {
			fail("public_keys %#v, want {\"drivelab\": the run's key}", md["public_keys"])
		}
		if !reflect.DeepEqual(md["keys"], []any{map[string]any{"name": "drivelab", "type": "ssh", "data": key}}) {
			fail("keys %#v, want [{name: drivelab, type: ssh, data: the run's key}]", md["keys"])
		}
	}
	return errors.Join(errs...)
}

// novaFolderChanged is d with change made to meta_data.json in folder
// version and in latest, which stay alike as lint wants them.
func novaFolderChanged(d render.Drive, version string, change func(map[string]any)) render.Drive {
	edit := func(data []byte) []byte {
		var md map[string]any
		if err := json.Unmarshal(data, &md); err != nil {
			panic(err)
		}
		change(md)
		out, err := json.Marshal(md)
		if err != nil {
			panic(err)
		}
		return out
	}
	d.MetaData = edit(d.MetaData)
	d.LayoutFiles = slices.Clone(d.LayoutFiles)
	for i, f := range d.LayoutFiles {
		if f.Path == render.VersionPath(version, "meta_data.json") {
			d.LayoutFiles[i].Data = edit(f.Data)
		}
	}
	return d
}
