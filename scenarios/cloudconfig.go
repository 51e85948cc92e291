package scenarios

import (
	"github.com/drivelab/drivelab/framework/lint"
	"github.com/drivelab/drivelab/framework/verify"
	"github.com/drivelab/drivelab/scenarios/checks"
	"github.com/drivelab/drivelab/scenarios/cloudconfig"
)

// CloudConfig is the cloud-config users of config drives write every day
// (fixtures/templates/debian12/user_data.app.tmpl): a group and a user with
// an SSH key, a file owned by them, a command run once per instance, root's
// password; the client and app01 find each other by name. Written against
// framework/ and scenarios/checks only: this file, its own checks in
// scenarios/cloudconfig, one file each, the topology
// (fixtures/topology-cloudconfig.yaml) and the template. It boots two nodes
// of its own, so `make e2e` leaves it out: `make cloudconfig` runs it.
var CloudConfig = register(Scenario{
	Name:     "cloudconfig",
	Topology: cloudconfig.TopologyFile,
	// The template exists for debian12 only (debian12-nova takes its
	// templates): CentOS 7's cloud-init (19.4) predates write_files' defer
	// (21.4) and chpasswd's users (22.3).
	Flavors: []string{"debian12", "debian12-nova"},
	Labels:  []string{LabelCloudConfig},
	// Checks run a few at a time in this order (verify.Start): password,
	// which mostly waits for sshd's delay after a wrong password, goes first.
	Checks: []verify.Check{
		{Name: "password", Run: checks.Password},
		{Name: "hostname", Run: checks.Hostname},
		{Name: "hosts", Run: checks.Hosts},
		// From every node: the two find each other by name.
		{Name: "resolve", Run: checks.Resolve},
		{Name: "static-ip", Run: checks.StaticIP},
		{Name: "first-boot", Run: checks.FirstBoot},
		{Name: "identity", Run: checks.Identity},
		{Name: "write-files", Roles: []string{cloudconfig.RoleApp}, Run: cloudconfig.WriteFiles},
		{Name: "runcmd", Roles: []string{cloudconfig.RoleApp}, Run: cloudconfig.Runcmd},
		{Name: "deploy-user", Roles: []string{cloudconfig.RoleApp}, Run: cloudconfig.DeployUser},
	},
	Lint: []lint.Rule{checks.LintTopology("cloudconfig", cloudconfig.TopologyFile, cloudconfig.Needs...)},
})
