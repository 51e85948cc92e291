package render_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
	"golang.org/x/crypto/ssh"

	"github.com/drivelab/drivelab/framework/render"
	"github.com/drivelab/drivelab/framework/topology"
)

const (
	topologyFile = "../../fixtures/topology.yaml"
	templatesDir = "../../fixtures/templates"
)

func reference(t *testing.T) *topology.Topology {
	t.Helper()
	topo, err := topology.Load(topologyFile)
	if err != nil {
		t.Fatal(err)
	}
	return topo
}

func renderRef(t *testing.T, in render.Input) ([]render.Drive, error) {
	t.Helper()
	if in.Topology == nil {
		in.Topology = reference(t)
	}
	if in.TemplatesDir == "" {
		in.TemplatesDir = templatesDir
	}
	res, err := render.Render(context.Background(), in)
	return res.Drives, err
}

func TestReferenceDrives(t *testing.T) {
	for _, flavor := range []string{"centos7", "debian12", "debian12-nova"} {
		t.Run(flavor, func(t *testing.T) {
			ds, err := renderRef(t, render.Input{Flavor: flavor})
			if err != nil {
				t.Fatal(err)
			}
			if len(ds) != 4 {
				t.Fatalf("%d drives, want 4", len(ds))
			}
			for i, d := range ds {
				if want := []string{"test2", "haproxy", "web01", "web02"}[i]; d.Node.Name != want {
					t.Errorf("drive %d is %s, want %s (topology order)", i, d.Node.Name, want)
				}
				var meta struct {
					Files                []struct{ Path string } `json:"files"`
					Hostname, Name, UUID string
				}
				if err := json.Unmarshal(d.MetaData, &meta); err != nil {
					t.Fatalf("%s meta_data: %v", d.Node.Name, err)
				}
				if meta.Hostname != d.Node.FQDN || meta.UUID != d.Node.UUID || meta.Name != d.Node.InstanceName {
					t.Errorf("%s meta_data = %+v", d.Node.Name, meta)
				}
				if len(meta.Files) != len(d.Content) {
					t.Errorf("%s: meta_data lists %d files, drive has %d contents", d.Node.Name, len(meta.Files), len(d.Content))
				}
				for j, c := range d.Content {
					if want := "/content/000" + string(rune('0'+j)); c.ContentPath != want {
						t.Errorf("%s content %d is %s, want %s", d.Node.Name, j, c.ContentPath, want)
					}
					if c.Package != "" && (c.Data != nil || c.Source != "") {
						t.Errorf("%s: package %s has bytes or a source without a package dir", d.Node.Name, c.Package)
					}
				}
				if !strings.HasPrefix(string(d.UserData), "#!/bin/bash\n") {
					t.Errorf("%s user_data starts %q", d.Node.Name, firstLine(d.UserData))
				}
				if string(d.VendorData) != "{}\n" {
					t.Errorf("%s vendor_data without access = %q", d.Node.Name, d.VendorData)
				}
				if (d.NetworkData != nil) != (flavor != "centos7") {
					t.Errorf("%s network_data = %q", d.Node.Name, d.NetworkData)
				}
			}
		})
	}
}

func firstLine(b []byte) string {
	s, _, _ := strings.Cut(string(b), "\n")
	return s
}

// writeFiles creates files (path -> content) under a new temporary directory.
func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for p, content := range files {
		full := filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// Template errors name the node, the template file and the line.
func TestTemplateErrorsNameNodeFileAndLine(t *testing.T) {
	cases := map[string]struct {
		overlay map[string]string
		want    []string
	}{
		"unknown key on one node": {
			map[string]string{"nodes/web02/index.html.tmpl": "Greetings\nfrom {{.Node.Hostname}} !\n"},
			[]string{"node web02: ", "nodes/web02/index.html.tmpl:2: ", "can't evaluate field Hostname", "templates see .Node"},
		},
		"file the node does not carry": {
			map[string]string{"user_data.web.tmpl": "#!/bin/bash\ncat {{.Path \"haproxy-config\"}}\n"},
			[]string{"node web01: ", "user_data.web.tmpl:2: ", `node web01 carries no file "haproxy-config"`},
		},
		"syntax error reported once": {
			map[string]string{"hosts.tmpl": "{{range .Nodes}}\n"},
			[]string{"hosts.tmpl:2: ", "unexpected EOF"},
		},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			overlay := writeFiles(t, c.overlay)
			ds, err := renderRef(t, render.Input{Flavor: "debian12", Overlay: overlay})
			if err == nil {
				t.Fatal("rendered without error")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
			if name == "syntax error reported once" && strings.Count(err.Error(), "unexpected EOF") != 1 {
				t.Errorf("parse error reported more than once:\n%v", err)
			}
			var re *render.Error
			if !errors.As(err, &re) || re.File == "" || re.Line == 0 {
				t.Errorf("error is not a located *render.Error: %#v", err)
			}
			if want := map[string]int{"unknown key on one node": 3, "file the node does not carry": 2, "syntax error reported once": 0}[name]; len(ds) != want {
				t.Errorf("%d drives returned, want the %d that rendered", len(ds), want)
			}
		})
	}
}

// Overlay beats flavor; a node's own template beats the shared one.
func TestOverlayPrecedence(t *testing.T) {
	overlay := writeFiles(t, map[string]string{
		"index.html.tmpl":             "overlay {{.Node.Name}}\n",
		"nodes/web02/index.html.tmpl": "overlay just for web02\n",
	})
	ds, err := renderRef(t, render.Input{Flavor: "debian12", Overlay: overlay})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range ds[2:] {
		page := d.Content[2]
		want := map[string]string{"web01": "overlay web01\n", "web02": "overlay just for web02\n"}[d.Node.Name]
		if string(page.Data) != want {
			t.Errorf("%s page = %q, want %q", d.Node.Name, page.Data, want)
		}
		if tmpl := d.Templates["openstack/content/0002"]; !strings.HasPrefix(tmpl, overlay) {
			t.Errorf("%s page attributed to %s", d.Node.Name, tmpl)
		}
	}
}

// An overlay may hold a self-test's variant.yaml, a README and hidden files
// (an editor's swap file) beside its templates; anything else that overrides
// nothing is refused (fixtures/bad/overlay-*).
func TestOverlayNotes(t *testing.T) {
	overlay := writeFiles(t, map[string]string{
		"index.html.tmpl":        "overlay {{.Node.Name}}\n",
		"variant.yaml":           "check: x\n",
		"README.md":              "notes\n",
		".index.html.tmpl.swp":   "vim\n",
		".git/config":            "[core]\n",
		"nodes/web01/.hosts.swp": "vim\n",
	})
	if _, err := renderRef(t, render.Input{Flavor: "debian12", Overlay: overlay}); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(overlay, "index.html.tmpl~"), []byte("backup\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := renderRef(t, render.Input{Flavor: "debian12", Overlay: overlay}); err == nil || !strings.Contains(err.Error(), "index.html.tmpl~: overrides no template") {
		t.Fatalf("error = %v", err)
	}
}

func TestRoleAndFlavorMustAgree(t *testing.T) {
	edit := func(old, new string) *topology.Topology {
		data, err := os.ReadFile(topologyFile)
		if err != nil {
			t.Fatal(err)
		}
		topo, err := topology.Parse("t.yaml", []byte(strings.Replace(string(data), old, new, 1)))
		if err != nil {
			t.Fatal(err)
		}
		return topo
	}
	cases := map[string]struct {
		topo *topology.Topology
		want string
	}{
		"unmapped file": {edit("files: [hosts, network]", "files: [hosts, network, motd]"),
			`role "client" needs file "motd", which flavor debian12 does not map`},
		"package not listed": {edit("packages: [httpd]", "packages: []"),
			`role "web" carries package "httpd" (file "httpd-package") but does not list it`},
		"package not carried": {edit("files: [hosts, network]\n", "files: [hosts, network]\n    packages: [haproxy]\n"),
			`role "client" lists package "haproxy" but none of its files carries it`},
		"missing user_data template": {edit("user_data.client.tmpl", "user_data.nope.tmpl"),
			`role "client" user_data: template ../../fixtures/templates/debian12/user_data.nope.tmpl does not exist`},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := renderRef(t, render.Input{Topology: c.topo, Flavor: "debian12"})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error = %v, want %q", err, c.want)
			}
		})
	}
}

func TestMissingPackageFile(t *testing.T) {
	pkgs := writeFiles(t, map[string]string{"haproxy.tar.gz": "x"})
	_, err := renderRef(t, render.Input{Flavor: "debian12", PackageDir: pkgs})
	if err == nil || !strings.Contains(err.Error(), "package httpd: stat "+filepath.Join(pkgs, "apache2.tar.gz")) {
		t.Fatalf("error = %v", err)
	}
	if strings.Contains(err.Error(), "haproxy.tar.gz") {
		t.Errorf("the present package is reported too: %v", err)
	}
	ds, err := renderRef(t, render.Input{Flavor: "debian12", PackageDir: writeFiles(t, map[string]string{"haproxy.tar.gz": "x", "apache2.tar.gz": "y"})})
	if err != nil {
		t.Fatal(err)
	}
	if src := ds[2].Content[1].Source; filepath.Base(src) != "apache2.tar.gz" {
		t.Errorf("web01 package source = %q", src)
	}
}

func TestLoadFlavorRefuses(t *testing.T) {
	cases := map[string]struct{ yaml, want string }{
		"two kinds":        {"files:\n  hosts: {path: /etc/hosts, template: t.tmpl, package: p}\npackages: {p: p.deb}\n", "files.hosts: set exactly one of template, package or network_data"},
		"relative path":    {"files:\n  hosts: {path: etc/hosts, template: t.tmpl}\n", `files.hosts: path "etc/hosts" must be a clean absolute guest path`},
		"unknown package":  {"files:\n  pkg: {path: /tmp/p, package: nope}\n", `files.pkg: package "nope" is not listed under packages`},
		"missing template": {"files:\n  hosts: {path: /etc/hosts, template: gone.tmpl}\n", "gone.tmpl does not exist"},
		"two network_data": {"files:\n  a: {network_data: t.tmpl}\n  b: {network_data: t.tmpl}\n", "files.b: network_data is already given by files.a"},
		"package path":     {"files: {}\npackages: {p: ../p.deb}\n", `packages.p: "../p.deb" must be a plain file name`},
		"unknown field":    {"files:\n  hosts: {path: /etc/hosts, tempate: t.tmpl}\n", "field tempate not found"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			dir := writeFiles(t, map[string]string{"f/flavor.yaml": c.yaml, "f/t.tmpl": "x"})
			_, err := render.LoadFlavor(dir, "f")
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "flavor.yaml") {
				t.Fatalf("error = %v, want it to name flavor.yaml and contain %q", err, c.want)
			}
		})
	}
	if _, err := render.LoadFlavor(templatesDir, "centos8"); err == nil || !strings.Contains(err.Error(), "known flavors in ../../fixtures/templates: centos7, debian12, debian12-nova") {
		t.Errorf("unknown flavor: %v", err)
	}
}

func newHostKey(t *testing.T) render.HostKey {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	sshPub, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return render.HostKey{Private: string(pem.EncodeToMemory(block)), Public: strings.TrimSpace(string(ssh.MarshalAuthorizedKey(sshPub)))}
}

func TestAccessBecomesVendorData(t *testing.T) {
	topo := reference(t)
	access := &render.Access{AuthorizedKeys: []string{newHostKey(t).Public + " harness"}, HostKeys: map[string]render.HostKey{}}
	for _, n := range topo.Nodes {
		access.HostKeys[n.Name] = newHostKey(t)
	}
	ds, err := renderRef(t, render.Input{Topology: topo, Flavor: "debian12", Access: access})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range ds {
		var vd map[string]string
		if err := json.Unmarshal(d.VendorData, &vd); err != nil {
			t.Fatalf("%s vendor_data: %v", d.Node.Name, err)
		}
		cc, ok := strings.CutPrefix(vd["cloud-init"], "#cloud-config\n")
		if !ok {
			t.Fatalf("%s vendor_data cloud-init = %q", d.Node.Name, vd["cloud-init"])
		}
		var got struct {
			DisableRoot       *bool             `yaml:"disable_root"`
			SSHAuthorizedKeys []string          `yaml:"ssh_authorized_keys"`
			SSHKeys           map[string]string `yaml:"ssh_keys"`
			SSHDeleteKeys     *bool             `yaml:"ssh_deletekeys"`
			SSHGenKeyTypes    []string          `yaml:"ssh_genkeytypes"`
		}
		if err := yaml.Unmarshal([]byte(cc), &got); err != nil {
			t.Fatal(err)
		}
		hk := access.HostKeys[d.Node.Name]
		if got.DisableRoot == nil || *got.DisableRoot || len(got.SSHAuthorizedKeys) != 1 || got.SSHAuthorizedKeys[0] != access.AuthorizedKeys[0] ||
			got.SSHKeys["ed25519_private"] != hk.Private || got.SSHKeys["ed25519_public"] != hk.Public ||
			got.SSHDeleteKeys == nil || !*got.SSHDeleteKeys {
			t.Errorf("%s cloud-config:\n%s", d.Node.Name, cc)
		}
		// cloud-init 22.4.2's schema refuses an empty list ("[] is too
		// short"); with ssh_keys it generates no key anyway.
		if got.SSHGenKeyTypes != nil {
			t.Errorf("%s: ssh_genkeytypes must be absent:\n%s", d.Node.Name, cc)
		}
	}

	delete(access.HostKeys, "web02")
	access.HostKeys["web03"] = newHostKey(t)
	_, err = renderRef(t, render.Input{Topology: topo, Flavor: "debian12", Access: access})
	for _, want := range []string{"node web02: Access.HostKeys has no host key", `Access.HostKeys names "web03", which is not a node`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error = %v, want %q", err, want)
		}
	}
}

func TestTemplateFuncs(t *testing.T) {
	overlay := writeFiles(t, map[string]string{
		"user_data.client.tmpl": "#!/bin/sh\necho {{shq \"it's $HOME\"}} {{json .Node.IP}} {{netmask .Network.CIDR}}\n",
	})
	ds, err := renderRef(t, render.Input{Flavor: "debian12", Overlay: overlay})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(ds[0].UserData), "#!/bin/sh\necho 'it'\\''s $HOME' \"192.168.100.25\" 255.255.255.0\n"; got != want {
		t.Errorf("user_data = %q, want %q", got, want)
	}
}

// A meta_data.json.tmpl replaces the harness's meta_data.json for the nodes
// it applies to; here the self-test's misspelt hostname, which is otherwise
// byte for byte what the harness writes.
func TestMetaDataTemplate(t *testing.T) {
	clean, err := renderRef(t, render.Input{Flavor: "debian12"})
	if err != nil {
		t.Fatal(err)
	}
	ds, err := renderRef(t, render.Input{Flavor: "debian12", Overlay: "../../fixtures/selftest/hostname-typo"})
	if err != nil {
		t.Fatal(err)
	}
	for i, d := range ds {
		want := clean[i].MetaData
		if d.Node.Name == "web01" {
			want = []byte(strings.Replace(string(want), `"web01.cloud.org"`, `"web0l.cloud.org"`, 1))
			if tmpl := d.Templates[render.MetaDataPath]; !strings.HasSuffix(tmpl, "nodes/web01/"+render.MetaDataTemplate) {
				t.Errorf("web01 meta_data attributed to %q", tmpl)
			}
		}
		if string(d.MetaData) != string(want) {
			t.Errorf("%s meta_data =\n%s\nwant\n%s", d.Node.Name, d.MetaData, want)
		}
	}
	// Its errors are located like any template's.
	overlay := writeFiles(t, map[string]string{render.MetaDataTemplate: "{\n  \"hostname\": {{json .Node.Hostname}}\n}\n"})
	_, err = renderRef(t, render.Input{Flavor: "debian12", Overlay: overlay})
	if err == nil || !strings.Contains(err.Error(), render.MetaDataTemplate+":2: ") {
		t.Fatalf("error = %v, want it at %s:2", err, render.MetaDataTemplate)
	}
}

// The web tier is data: a third web node joins every hosts file and the
// haproxy backend without a template change.
func TestThirdWebNode(t *testing.T) {
	topo, err := topology.Load("../../fixtures/topology-web3.yaml")
	if err != nil {
		t.Fatal(err)
	}
	ds, err := renderRef(t, render.Input{Topology: topo, Flavor: "debian12"})
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 5 {
		t.Fatalf("%d drives, want 5", len(ds))
	}
	for _, d := range ds {
		for _, c := range d.Content {
			switch c.Name {
			case "hosts":
				if !strings.Contains(string(c.Data), "\n192.168.100.29 web03.cloud.org web03\n") {
					t.Errorf("%s hosts file lacks web03:\n%s", d.Node.Name, c.Data)
				}
			case "haproxy-config":
				for _, w := range []string{"web01", "web02", "web03"} {
					if !strings.Contains(string(c.Data), "server "+w+" "+w+".cloud.org:80 check") {
						t.Errorf("haproxy.cfg has no checked server %s:\n%s", w, c.Data)
					}
				}
			}
		}
	}
}

// A template lists the nodes of the roles it names: the data, not the
// harness, says which nodes a load balancer's servers are. A role the
// topology lacks fails the rendering, naming node, role and the roles there
// are, rather than rendering an empty list.
func TestNodesWithRoleInTemplates(t *testing.T) {
	overlay := writeFiles(t, map[string]string{
		"user_data.client.tmpl": "#!/bin/sh\n# {{range .NodesWithRole \"web\"}}{{.Name}} {{end}}| {{range .NodesWithRole \"loadbalancer\"}}{{.Name}}{{end}}\n",
	})
	ds, err := renderRef(t, render.Input{Flavor: "debian12", Overlay: overlay})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(ds[0].UserData), "#!/bin/sh\n# web01 web02 | haproxy\n"; got != want {
		t.Errorf("user_data = %q, want %q", got, want)
	}
	typo := writeFiles(t, map[string]string{
		"user_data.client.tmpl": "#!/bin/sh\n# {{range .NodesWithRole \"wbe\"}}{{.Name}}{{end}}\n",
	})
	_, err = renderRef(t, render.Input{Flavor: "debian12", Overlay: typo})
	if err == nil || !strings.Contains(err.Error(), `node test2: NodesWithRole "wbe": the topology defines no such role (it has client, loadbalancer, web)`) {
		t.Fatalf("a role the topology lacks: %v", err)
	}
}

// A template that loops without end is stopped at the output limit, with a
// message naming it; a cancelled context stops it at once, whether it
// writes or not.
func TestRunawayTemplateIsBounded(t *testing.T) {
	// 8 KiB a turn: the size cap, not the time limit, stops it even under
	// the race detector on a busy machine.
	overlay := writeFiles(t, map[string]string{"user_data.client.tmpl": "#!/bin/bash\n{{range 100000000}}" + strings.Repeat("x", 8192) + "{{end}}\n"})
	_, err := renderRef(t, render.Input{Flavor: "debian12", Overlay: overlay})
	if err == nil || !strings.Contains(err.Error(), filepath.Join(overlay, "user_data.client.tmpl")+": renders more than 16 MiB, so it was stopped there") {
		t.Fatalf("error = %v", err)
	}
	for name, loop := range map[string]string{"writing": "{{range 100000000}}x{{end}}", "silent": "{{range 100000000}}{{end}}"} {
		overlay := writeFiles(t, map[string]string{"user_data.client.tmpl": "#!/bin/bash\n" + loop + "\n"})
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		start := time.Now()
		_, err := render.Render(ctx, render.Input{Topology: reference(t), TemplatesDir: templatesDir, Flavor: "debian12", Overlay: overlay})
		cancel()
		if took := time.Since(start); took > time.Second || !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("%s: cancelled after 200ms, returned after %v with %v", name, took, err)
		}
	}
}

// A template that is not a regular file is refused by name, not read.
func TestTemplateMustBeAFile(t *testing.T) {
	overlay := writeFiles(t, map[string]string{"README.md": "x"})
	fifo := filepath.Join(overlay, "user_data.client.tmpl")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := renderRef(t, render.Input{Flavor: "debian12", Overlay: overlay})
	if err == nil || !strings.Contains(err.Error(), "overlay file "+fifo+" is a named pipe (FIFO)") {
		t.Fatalf("error = %v", err)
	}
}

// A runaway template every node renders is run and reported once, and the
// drives' rendered files together are bounded whatever the node count.
func TestRenderingIsBoundedAcrossNodes(t *testing.T) {
	line := strings.Repeat("x", 99) + "\n"
	overlay := writeFiles(t, map[string]string{"hosts.tmpl": "{{range 100000000}}" + line + "{{end}}"})
	_, err := renderRef(t, render.Input{Flavor: "debian12", Overlay: overlay})
	if err == nil || strings.Count(err.Error(), "renders more than 16 MiB") != 1 {
		t.Errorf("want one report of the runaway hosts.tmpl, got %v", err)
	}
	// Just under the per-file limit for each of five nodes: the fifth
	// passes the limit of all drives together.
	overlay = writeFiles(t, map[string]string{"hosts.tmpl": "{{range 157000}}" + line + "{{end}}"})
	web3, err := topology.Load("../../fixtures/topology-web3.yaml")
	if err != nil {
		t.Fatal(err)
	}
	_, err = renderRef(t, render.Input{Topology: web3, Flavor: "debian12", Overlay: overlay})
	if err == nil || !strings.Contains(err.Error(), "node web03: "+filepath.Join(overlay, "hosts.tmpl")+": stopped: with it the drives' rendered files would hold over 64 MiB together") {
		t.Errorf("error = %v", err)
	}
}

// A flavor.yaml that is a FIFO or oversized is refused by name, not read.
func TestFlavorFileMustBeASmallFile(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "pipe"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(dir, "pipe", render.FlavorFile), 0o600); err != nil {
		t.Fatal(err)
	}
	writeFile := func(p, s string) {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	writeFile(filepath.Join(dir, "big", render.FlavorFile), strings.Repeat("# comment\n", 2<<20/10))
	for flavor, want := range map[string]string{
		"pipe": "flavor file " + filepath.Join(dir, "pipe", render.FlavorFile) + " is a named pipe (FIFO)",
		"big":  "flavor file " + filepath.Join(dir, "big", render.FlavorFile) + " is over 1 MiB",
	} {
		if _, err := render.LoadFlavor(dir, flavor); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v", flavor, err)
		}
	}
}
