package scenarios

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/drivelab/drivelab/framework/topology"
	"github.com/drivelab/drivelab/framework/verify"
)

// sep separates the outputs of two commands run in one session.
const sep = "--drivelab--"

// FirstBoot: cloud-init finished with no errors from the config drive, the
// instance-id is the drive's uuid, and every injected file that user_data
// does not consume is in place byte for byte.
func FirstBoot(ctx context.Context, env *verify.Env, node topology.Node) error {
	c, err := root(env, node)
	if err != nil {
		return err
	}
	var paths []string
	want := map[string]string{}
	for _, f := range env.Files[node.Name] {
		// Package files are consumed by user_data; the services check covers them.
		if f.Data != nil {
			sum := sha256.Sum256(f.Data)
			want[f.Path] = hex.EncodeToString(sum[:])
			paths = append(paths, shellQuote(f.Path))
		}
	}
	// `cloud-init status` puts its exit status in its text.
	parts, err := facts(ctx, env, c,
		"cloud-init status",
		"cat /run/cloud-init/result.json",
		"cat /var/lib/cloud/data/instance-id",
		"sha256sum "+strings.Join(paths, " "))
	if err != nil {
		return err
	}
	return checkFirstBoot(node, parts[0], parts[1], parts[2], want, parts[3])
}

func checkFirstBoot(node topology.Node, status, resultJSON, instanceID string, want map[string]string, sums string) error {
	if s := strings.TrimSpace(status); s != "status: done" {
		return fmt.Errorf("cloud-init status: expected \"status: done\", actual %q", s)
	}
	var r struct {
		V1 struct {
			Datasource string   `json:"datasource"`
			Errors     []string `json:"errors"`
		} `json:"v1"`
	}
	if err := json.Unmarshal([]byte(resultJSON), &r); err != nil {
		return fmt.Errorf("/run/cloud-init/result.json: %w", err)
	}
	if len(r.V1.Errors) > 0 {
		return fmt.Errorf("cloud-init reported errors: %s", strings.Join(r.V1.Errors, "; "))
	}
	if !strings.Contains(r.V1.Datasource, "ConfigDrive") {
		return fmt.Errorf("datasource: expected ConfigDrive, actual %q", r.V1.Datasource)
	}
	if got := strings.TrimSpace(instanceID); got != node.UUID {
		return fmt.Errorf("instance-id: expected %s (the drive's uuid), actual %q", node.UUID, got)
	}
	got := map[string]string{}
	for _, line := range strings.Split(sums, "\n") {
		if sum, path, ok := strings.Cut(line, "  "); ok {
			got[path] = sum
		}
	}
	for path, sum := range want {
		switch got[path] {
		case sum:
		case "":
			return fmt.Errorf("injected file %s is missing", path)
		default:
			return fmt.Errorf("injected file %s: expected sha256 %.12s…, actual %.12s…", path, sum, got[path])
		}
	}
	return nil
}
