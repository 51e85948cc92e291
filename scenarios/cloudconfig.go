package scenarios

import (
	"fmt"

	"github.com/drivelab/drivelab/framework/lint"

	"github.com/drivelab/drivelab/framework/topology"
	"github.com/drivelab/drivelab/framework/verify"
)

// CloudConfig is the cloud-config users of config drives write every day
// (fixtures/templates/debian12/user_data.app.tmpl): a group and a user with
// an SSH key, a file owned by them, a command run once per instance, root's
// password; the client and app01 find each other by name. Written against
// framework/ only: this file, one file per check, the topology
// (fixtures/topology-cloudconfig.yaml) and the template. It boots two nodes
// of its own, so `make e2e` leaves it out: `make cloudconfig` runs it.
var CloudConfig = register(Scenario{
	Name:     "cloudconfig",
	Topology: "fixtures/topology-cloudconfig.yaml",
	// The template exists for debian12 only: CentOS 7's cloud-init (19.4)
	// predates write_files' defer (21.4) and chpasswd's users (22.3).
	Flavors: []string{"debian12"},
	Labels:  []string{LabelCloudConfig},
	// Checks run a few at a time in this order (verify.Start): password,
	// which mostly waits for sshd's delay after a wrong password, goes first.
	Checks: []verify.Check{
		{Name: "password", Run: Password},
		{Name: "hostname", Run: Hostname},
		{Name: "hosts", Run: Hosts},
		// From every node: the two find each other by name.
		{Name: "resolve", Run: Resolve},
		{Name: "static-ip", Run: StaticIP},
		{Name: "first-boot", Run: FirstBoot},
		{Name: "identity", Run: Identity},
		{Name: "write-files", Roles: []string{roleApp}, Run: WriteFiles},
		{Name: "runcmd", Roles: []string{roleApp}, Run: Runcmd},
		{Name: "deploy-user", Roles: []string{roleApp}, Run: DeployUser},
	},
	Lint: []lint.Rule{lintTopology("cloudconfig", "fixtures/topology-cloudconfig.yaml", roleNeed{role: roleApp, min: 1, why: "its write-files, runcmd and deploy-user checks"})},
})

// roleApp is the topology role whose user_data is the cloud-config.
const roleApp = "app"

// What user_data.app.tmpl asks for; TestCloudConfigTemplate holds the
// template to these.
const (
	deployUser = "deploy"
	appGroup   = "appdata"
	// appConfPath is write_files' file: owner deploy:appdata, mode 0640.
	appConfPath  = "/etc/app/app.conf"
	appConfOwner = deployUser + ":" + appGroup
	appConfMode  = "640"
	// appDir is runcmd's directory (deploy:appdata, 0750) and runcmdLog its
	// line per run, naming the instance.
	appDir     = "/var/lib/app"
	appDirMode = "750"
	runcmdLog  = appDir + "/runcmd.log"
)

// appConf is the content write_files gives app.conf on node.
func appConf(node topology.Node) string {
	return fmt.Sprintf("# written by cloud-init's write_files\nnode = %s\naddress = %s\n", node.FQDN, node.IP)
}

// runcmdLine is the line runcmd logs for one instance.
func runcmdLine(node topology.Node) string {
	return "runcmd ran for instance " + node.UUID
}
