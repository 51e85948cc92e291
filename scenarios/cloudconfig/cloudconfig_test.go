package cloudconfig

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
	"golang.org/x/crypto/ssh"

	"github.com/drivelab/drivelab/framework/render"
	"github.com/drivelab/drivelab/framework/topology"
	"github.com/drivelab/drivelab/scenarios/checks/checktest"
)

// root is the repository root, from this package.
const root = "../.."

func app01(t *testing.T) topology.Node {
	t.Helper()
	topo, err := topology.Load(filepath.Join(root, TopologyFile))
	if err != nil {
		t.Fatal(err)
	}
	return checktest.Node(t, topo, "app01")
}

const goodAppConf = "# written by cloud-init's write_files\nnode = app01.cloud.org\naddress = 192.168.100.30\n"

func TestCheckWriteFiles(t *testing.T) {
	n := app01(t)
	good := "deploy:appdata 640 regular file\n"
	checktest.WantErr(t, checkWriteFiles(n, good, goodAppConf), "")
	checktest.WantErr(t, checkWriteFiles(n, "stat: cannot statx '/etc/app/app.conf': No such file or directory\n", "cat: /etc/app/app.conf: No such file or directory\n"),
		"/etc/app/app.conf is missing")
	checktest.WantErr(t, checkWriteFiles(n, "deploy:appdata 644 regular file\n", goodAppConf), `expected "deploy:appdata 640 regular file" (owner, mode, type), actual "deploy:appdata 644 regular file"`)
	// Not deferred: written before users_groups, so root kept it.
	checktest.WantErr(t, checkWriteFiles(n, "root:root 640 regular file\n", goodAppConf), `actual "root:root 640 regular file"`)
	checktest.WantErr(t, checkWriteFiles(n, "deploy:appdata 640 directory\n", goodAppConf), `actual "deploy:appdata 640 directory"`)
	checktest.WantErr(t, checkWriteFiles(n, good, strings.Replace(goodAppConf, ".30", ".31", 1)), `line 3: expected "address = 192.168.100.30", actual "address = 192.168.100.31"`)
	checktest.WantErr(t, checkWriteFiles(n, good, strings.TrimSuffix(goodAppConf, "\n")), "differs from write_files' content")
}

func TestCheckRuncmd(t *testing.T) {
	n := app01(t)
	dir := "deploy:appdata 750 directory\n"
	line := "runcmd ran for instance " + n.UUID + "\n"
	checktest.WantErr(t, checkRuncmd(n, dir, line), "")
	// A kept lab's earlier instance left its own line.
	checktest.WantErr(t, checkRuncmd(n, dir, "runcmd ran for instance 0b7e4bd6-3c1f-4a8e-9d52-6f1f0c2a7e28\n"+line), "")
	checktest.WantErr(t, checkRuncmd(n, dir, "cat: /var/lib/app/runcmd.log: No such file or directory\n"), "runcmd did not run for this instance")
	checktest.WantErr(t, checkRuncmd(n, dir, line+line), "runcmd ran 2 times for instance "+n.UUID+", expected once")
	checktest.WantErr(t, checkRuncmd(n, "stat: cannot statx '/var/lib/app': No such file or directory\n", line), "runcmd's install -d: /var/lib/app is missing")
	checktest.WantErr(t, checkRuncmd(n, "root:root 755 directory\n", line), `expected "deploy:appdata 750 directory"`)
}

func TestCheckDeployAccount(t *testing.T) {
	passwd := "deploy:x:1000:1001:Application deployer:/home/deploy:/bin/bash\n"
	groups := "deploy appdata\n"
	status := "deploy L 12/02/2026 0 99999 7 -1\n"
	checktest.WantErr(t, checkDeployAccount(passwd, groups, status), "")
	checktest.WantErr(t, checkDeployAccount("\n", "id: 'deploy': no such user\n", "passwd: user 'deploy' does not exist\n"), `user deploy does not exist (getent passwd: "")`)
	checktest.WantErr(t, checkDeployAccount(strings.Replace(passwd, "/bin/bash", "/bin/sh", 1), groups, status), "expected home /home/deploy and shell /bin/bash, actual /home/deploy and /bin/sh")
	checktest.WantErr(t, checkDeployAccount(passwd, "deploy\n", status), `expected to be in group appdata, actual groups "deploy"`)
	checktest.WantErr(t, checkDeployAccount(passwd, groups, "deploy P 12/02/2026 0 99999 7 -1\n"), "expected a locked password")
}

func TestCheckDeploySession(t *testing.T) {
	n := app01(t)
	checktest.WantErr(t, checkDeploySession(n, "deploy\n"+goodAppConf), "")
	checktest.WantErr(t, checkDeploySession(n, "root\n"+goodAppConf), `expected user deploy, actual "root"`)
	checktest.WantErr(t, checkDeploySession(n, "deploy\n"+strings.Replace(goodAppConf, "app01", "app02", 1)), "as deploy, /etc/app/app.conf reads differently: line 2")
}

// The template asks for exactly what the checks expect: render app01's
// drive and read its cloud-config the way cloud-init will.
func TestCloudConfigTemplate(t *testing.T) {
	topo, err := topology.Load(filepath.Join(root, TopologyFile))
	if err != nil {
		t.Fatal(err)
	}
	rendered, err := render.Render(context.Background(), render.Input{Topology: topo, TemplatesDir: filepath.Join(root, "fixtures", "templates"), Flavor: "debian12"})
	if err != nil {
		t.Fatal(err)
	}
	drives := rendered.Drives
	i := slices.IndexFunc(drives, func(d render.Drive) bool { return d.Node.Role == RoleApp })
	if i < 0 {
		t.Fatalf("%s has no node of role %s", TopologyFile, RoleApp)
	}
	n, ud := drives[i].Node, drives[i].UserData
	var cc struct {
		Groups     []string `yaml:"groups"`
		FinalMods  []string `yaml:"cloud_final_modules"`
		WriteFiles []struct {
			Path, Owner, Permissions, Content string
			Defer                             bool
		} `yaml:"write_files"`
		Users []struct {
			Name   string   `yaml:"name"`
			Shell  string   `yaml:"shell"`
			Groups []string `yaml:"groups"`
			Keys   []string `yaml:"ssh_authorized_keys"`
		} `yaml:"users"`
		Runcmd [][]string `yaml:"runcmd"`
	}
	if err := yaml.Unmarshal(ud, &cc); err != nil {
		t.Fatal(err)
	}
	if len(cc.WriteFiles) != 1 {
		t.Fatalf("write_files: %+v", cc.WriteFiles)
	}
	wf := cc.WriteFiles[0]
	if wf.Path != appConfPath || wf.Owner != appConfOwner || wf.Permissions != "0"+appConfMode || wf.Content != appConf(n) || !wf.Defer {
		t.Errorf("write_files = %+v; the checks expect %s, %s, 0%s, deferred, content %q", wf, appConfPath, appConfOwner, appConfMode, appConf(n))
	}
	if len(cc.Users) != 1 || cc.Users[0].Name != deployUser || cc.Users[0].Shell != "/bin/bash" || !slices.Contains(cc.Users[0].Groups, appGroup) || !slices.Contains(cc.Groups, appGroup) {
		t.Errorf("users = %+v, groups = %v", cc.Users, cc.Groups)
	}
	pub := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(deployKey().PublicKey())))
	if len(cc.Users) != 1 || len(cc.Users[0].Keys) != 1 || !strings.HasPrefix(cc.Users[0].Keys[0], pub+" ") {
		t.Errorf("deploy's authorized key must be deployKey's, %s", pub)
	}
	runcmd := ""
	for _, c := range cc.Runcmd {
		runcmd += strings.Join(c, " ") + "\n"
	}
	for _, want := range []string{"install -d -o deploy -g appdata -m 0" + appDirMode + " " + appDir, ">> " + runcmdLog, "runcmd ran for instance $(cat /var/lib/cloud/data/instance-id)"} {
		if !strings.Contains(runcmd, want) {
			t.Errorf("runcmd lacks %q:\n%s", want, runcmd)
		}
	}
	// The image runs neither module unless the cloud-config names it.
	for _, mod := range []string{"write_files_deferred", "runcmd", "set_passwords", "final_message"} {
		if !slices.Contains(cc.FinalMods, mod) {
			t.Errorf("cloud_final_modules %v lacks %s", cc.FinalMods, mod)
		}
	}
}
