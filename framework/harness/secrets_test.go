package harness

import (
	"bytes"
	"context"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/drivelab/drivelab/framework/config"
	"github.com/drivelab/drivelab/framework/configdrive"
	"github.com/drivelab/drivelab/framework/render"
	"github.com/drivelab/drivelab/framework/topology"
)

func wantMode(t *testing.T, path string, want fs.FileMode) {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := st.Mode().Perm(); got != want {
		t.Errorf("%s: mode %04o, want %04o", path, got, want)
	}
}

// A run's secrets (client key, host keys, drives holding host keys and root
// passwords) are 0600 in folders only root lists; the artifacts carry the
// drives without a single private key, and their listing says so.
func TestSecretsStaySecret(t *testing.T) {
	ctx := context.Background()
	topo, err := topology.Load("../../fixtures/topology.yaml")
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	paths := config.Paths{State: filepath.Join(tmp, "state"), Artifacts: filepath.Join(tmp, "artifacts")}
	packages := filepath.Join(tmp, "packages")
	if err := os.MkdirAll(packages, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"haproxy.tar.gz", "apache2.tar.gz"} {
		if err := os.WriteFile(filepath.Join(packages, p), []byte("package"), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	// As Up does it.
	runDir := RunDir(paths, "r1")
	if err := privateRunDir(paths, runDir); err != nil {
		t.Fatal(err)
	}
	access, err := LoadOrCreateAccess(filepath.Join(runDir, "keys"), topo)
	if err != nil {
		t.Fatal(err)
	}
	rendered, err := render.Render(ctx, render.Input{Topology: topo, TemplatesDir: "../../fixtures/templates", Flavor: "debian12", PackageDir: packages, Access: access.Render()})
	if err != nil {
		t.Fatal(err)
	}
	drives := rendered.Drives
	stateDrives := filepath.Join(runDir, "drives")
	if _, err := buildDrives(ctx, drives, stateDrives); err != nil {
		t.Fatal(err)
	}
	l := &Run{Drives: drives, ArtifactsDir: filepath.Join(paths.Artifacts, "r1")}
	if err := l.saveDrives(); err != nil {
		t.Fatal(err)
	}

	wantMode(t, paths.State, 0o711)
	for _, dir := range []string{filepath.Dir(runDir), runDir, filepath.Join(runDir, "keys"), stateDrives} {
		wantMode(t, dir, 0o700)
	}
	keys, _ := filepath.Glob(filepath.Join(runDir, "keys", "*"))
	isos, _ := filepath.Glob(filepath.Join(stateDrives, "*.iso"))
	artifactISOs, _ := filepath.Glob(filepath.Join(l.ArtifactsDir, "drives", "*.iso"))
	if len(keys) != 1+len(topo.Nodes) || len(isos) != len(topo.Nodes) || len(artifactISOs) != len(topo.Nodes) {
		t.Fatalf("keys %v, state drives %v, artifact drives %v", keys, isos, artifactISOs)
	}
	for _, f := range append(append(keys, isos...), artifactISOs...) {
		wantMode(t, f, 0o600)
	}

	// The state's drives carry the host keys the nodes need ...
	var secrets [][]byte
	for _, k := range access.Hosts {
		body := strings.Split(strings.TrimSpace(k.PrivateOpenSSH), "\n")
		secrets = append(secrets, []byte(body[1]), []byte(body[len(body)-2]))
	}
	client := strings.Split(strings.TrimSpace(access.Client.PrivateOpenSSH), "\n")
	secrets = append(secrets, []byte(client[1]), []byte("PRIVATE KEY"))
	if n := countSecrets(t, isos, secrets); n == 0 {
		t.Fatal("the state's drives carry no host key: the test proves nothing")
	}
	// ... the artifacts' copies none of them.
	if n := countSecrets(t, artifactISOs, secrets); n != 0 {
		t.Errorf("the artifacts' drives hold %d pieces of private key material", n)
	}

	// The copies still say what the node was given, minus the key.
	im, err := configdrive.Read(filepath.Join(l.ArtifactsDir, "drives", configdrive.ImageName("web01")))
	if err != nil {
		t.Fatal(err)
	}
	vendor, err := im.Files[render.VendorDataPath].Bytes()
	im.Close()
	if err != nil {
		t.Fatal(err)
	}
	var vd map[string]string
	if err := json.Unmarshal(vendor, &vd); err != nil || !strings.Contains(vd["cloud-init"], "ed25519_public: "+access.Hosts["web01"].AuthorizedKey) ||
		!strings.Contains(vd["cloud-init"], render.RedactedKey) {
		t.Errorf("redacted vendor_data (%v):\n%s", err, vendor)
	}

	// The listing says which files were redacted.
	data, err := os.ReadFile(filepath.Join(l.ArtifactsDir, "drives", configdrive.ManifestFile))
	if err != nil {
		t.Fatal(err)
	}
	var listing struct {
		Note  string
		Files []listedFile
	}
	if err := json.Unmarshal(data, &listing); err != nil || !strings.Contains(listing.Note, "private key") {
		t.Fatalf("listing (%v):\n%s", err, data)
	}
	redacted := 0
	for _, f := range listing.Files {
		if (f.Redacted != "") != (f.Path == render.VendorDataPath) {
			t.Errorf("%s %s: redacted %q", f.Node, f.Path, f.Redacted)
		}
		if f.Redacted != "" {
			redacted++
		}
	}
	if redacted != len(topo.Nodes) {
		t.Errorf("%d files listed as redacted, want every node's vendor_data", redacted)
	}
}

// countSecrets counts the secrets found in the files of the images.
func countSecrets(t *testing.T, isos []string, secrets [][]byte) int {
	t.Helper()
	n := 0
	for _, iso := range isos {
		im, err := configdrive.Read(iso)
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range im.Names() {
			b, err := im.Files[name].Bytes()
			if err != nil {
				t.Fatal(err)
			}
			// vendor_data.json escapes the key's newlines; the base64 lines are intact.
			for _, s := range secrets {
				n += bytes.Count(b, s)
			}
		}
		im.Close()
	}
	return n
}

// A key cut short is not left half in place.
func TestRedactedCutShortKey(t *testing.T) {
	d := render.Drive{VendorData: []byte(`{"cloud-init": "#cloud-config\nssh_keys:\n  ed25519_private: -----BEGIN OPENSSH PRIVATE KEY-----\nb3Blbn"}`), UserData: []byte("#!/bin/sh\n")}
	r, paths := render.Redacted(d)
	if bytes.Contains(r.VendorData, []byte("b3Blbn")) || !json.Valid(r.VendorData) || len(paths) != 1 || !bytes.Equal(r.UserData, d.UserData) {
		t.Fatalf("redacted %v: %s", paths, r.VendorData)
	}
}
