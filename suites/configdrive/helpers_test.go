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
