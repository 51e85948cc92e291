package scenarios

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
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
	parts, err := facts(ctx, env, c,
		"cat /run/cloud-init/status.json",
		"cat /run/cloud-init/result.json",
		"cat /var/lib/cloud/data/instance-id",
		"sha256sum "+strings.Join(paths, " "))
	if err != nil {
		return err
	}
	return checkFirstBoot(node, parts[0], parts[1], parts[2], want, parts[3])
}

func checkFirstBoot(node topology.Node, statusJSON, resultJSON, instanceID string, want map[string]string, sums string) error {
	if status, detail := cloudInitStatus(statusJSON, json.Valid([]byte(resultJSON))); status != statusDone {
		return fmt.Errorf("cloud-init status: expected %q, actual %q (%s)", statusDone, status, detail)
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

const statusDone = "done"

// cloudInitStatus is what `cloud-init status` says, from the files it reads
// and by its rules (cloudinit/cmd/status.py, get_status_details): done when
// a stage ran and every stage that started finished, with no errors. Reading
// the files spares every node a start of cloud-init's Python CLI, seconds of
// emulated CPU while every other check runs; a test holds the two equal.
func cloudInitStatus(statusJSON string, resultExists bool) (status, detail string) {
	var s struct {
		V1 map[string]json.RawMessage `json:"v1"`
	}
	if err := json.Unmarshal([]byte(statusJSON), &s); err != nil {
		return "not run", "no readable /run/cloud-init/status.json: " + strings.TrimSpace(statusJSON)
	}
	status = "not run"
	if !resultExists {
		status, detail = "running", "no /run/cloud-init/result.json yet"
	}
	var errs []string
	latest := 0.0
	for _, key := range slices.Sorted(maps.Keys(s.V1)) {
		switch key {
		case "stage":
			var stage *string
			if json.Unmarshal(s.V1[key], &stage) == nil && stage != nil && *stage != "" {
				status, detail = "running", "running in stage: "+*stage
			}
		case "datasource":
		default:
			var stage struct {
				Errors          []string
				Start, Finished *float64
			}
			if json.Unmarshal(s.V1[key], &stage) != nil {
				continue // not a stage
			}
			errs = append(errs, stage.Errors...)
			start, finished := deref(stage.Start), deref(stage.Finished)
			if finished == 0 && start != 0 {
				status, detail = "running", key+" started and has not finished"
			}
			latest = max(latest, start, finished)
		}
	}
	switch {
	case len(errs) > 0:
		return "error", strings.Join(errs, "; ")
	case status == "not run" && latest > 0:
		return statusDone, ""
	case status == "not run":
		detail = "no stage has started"
	}
	return status, detail
}

func deref(f *float64) float64 {
	if f == nil {
		return 0
	}
	return *f
}
