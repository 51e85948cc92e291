// Package cloudconfig holds the checks of the cloudconfig scenario
// (scenarios/cloudconfig.go): the cloud-config users of config drives write
// every day (fixtures/templates/debian12/user_data.app.tmpl), a group and a
// user with an SSH key, a file owned by them, a command run once per
// instance. Written against framework/ and scenarios/checks only: one file
// per check, and here what the template asks for.
package cloudconfig

import (
	"fmt"

	"github.com/drivelab/drivelab/framework/topology"
	"github.com/drivelab/drivelab/scenarios/checks"
)

// TopologyFile is the topology the checks and the template are written for,
// relative to the repository root: the client and app01.
const TopologyFile = "fixtures/topology-cloudconfig.yaml"

// RoleApp is the topology role whose user_data is the cloud-config.
const RoleApp = "app"

// Needs is what the checks need of a topology.
var Needs = []checks.RoleNeed{{Role: RoleApp, Min: 1, Why: "its write-files, runcmd and deploy-user checks"}}

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
