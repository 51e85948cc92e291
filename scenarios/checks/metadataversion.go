package checks

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/drivelab/drivelab/framework/topology"
	"github.com/drivelab/drivelab/framework/verify"
)

// selectedVersionCmd prints the lines of cloud-init's log where its
// OpenStack reader says which version folder of the drive it selected, or
// the marker when there is no log to read.
const selectedVersionCmd = `if [ -r ` + cloudInitLog + ` ]; then grep -F "Selected version '" ` + cloudInitLog + `; true; else echo '` + noCloudInitLog + `'; fi`

// MetadataVersion is the OpenStack metadata version whose folder of the
// config drive cloud-init read on node: openstack/<version>/, or "latest"
// when it knew none of the drive's dated folders (a drive of layout latest
// has none). cloud-init's reader logs it at DEBUG, which Debian's
// cloud-init writes to /var/log/cloud-init.log:
//
//	... - openstack.py[DEBUG]: Selected version '2018-08-27' from ['2012-08-10', ..., 'content', 'latest']
//
// A node that read a drive again (a later boot as a new instance) logs it
// again: the last line is the read that counts. A scenario compares it with
// the drive's layout (lint.Report.SelectedVersions says what the host's
// cloud-init selected).
func MetadataVersion(ctx context.Context, env *verify.Env, node topology.Node) (string, error) {
	c, err := Root(env, node)
	if err != nil {
		return "", err
	}
	out, err := Run(ctx, env, c, selectedVersionCmd)
	if err != nil {
		return "", err
	}
	return selectedVersion(out)
}

// selectedVersionRE is cloud-init's OpenStack reader's message at DEBUG
// (22.4.2: "Selected version '%s' from %s").
var selectedVersionRE = regexp.MustCompile(`\[DEBUG\]: Selected version '(\d{4}-\d{2}-\d{2}|latest)' from \[`)

// selectedVersion is the version the last "Selected version" line of a
// cloud-init log names.
func selectedVersion(log string) (string, error) {
	if strings.Contains(log, noCloudInitLog) {
		return "", errors.New(noCloudInitLog + "; cloud-init did not run, or logs elsewhere")
	}
	version := ""
	for _, line := range strings.Split(log, "\n") {
		if m := selectedVersionRE.FindStringSubmatch(line); m != nil {
			version = m[1]
		}
	}
	if version == "" {
		return "", fmt.Errorf("%s has no DEBUG line \"Selected version '<version>' from [...]\": cloud-init's ConfigDrive reader read no config drive's openstack/ folder (see the datasource in /run/cloud-init/result.json), or it logs above DEBUG", cloudInitLog)
	}
	return version, nil
}

// DriveLayout: cloud-init on the node read the version folder of its
// drive that lint saw the host's cloud-init read (verify.Env.MetadataVersions):
// on a drive of Nova's layout the newest dated folder it knows, not latest.
// What lint checked is then what the guest used.
func DriveLayout(ctx context.Context, env *verify.Env, node topology.Node) error {
	want, ok := env.MetadataVersions[node.Name]
	if !ok {
		return fmt.Errorf("lint recorded no version folder for %s: it reads each drive with the host's cloud-init, which did not run", node.Name)
	}
	got, err := MetadataVersion(ctx, env, node)
	if err != nil {
		return err
	}
	return checkDriveLayout(node, got, want)
}

func checkDriveLayout(node topology.Node, got, want string) error {
	if got != want {
		return fmt.Errorf("cloud-init on %s read openstack/%s/ of its drive; lint checked openstack/%s/, the folder the host's cloud-init read from the same drive", node.Name, got, want)
	}
	return nil
}
