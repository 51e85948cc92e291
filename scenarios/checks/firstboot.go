package checks

import (
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/drivelab/drivelab/framework/topology"
	"github.com/drivelab/drivelab/framework/verify"
)

// FirstBoot: cloud-init finished with no errors from the config drive, the
// instance-id is the drive's uuid, and every injected file that user_data
// does not consume is in place byte for byte. The boot is also as clean as
// cloud-init's own integration tests demand (verify_clean_boot): no
// recoverable errors, no WARNING or Traceback in /var/log/cloud-init.log, no
// failed systemd unit; the first offending line is named.
func FirstBoot(ctx context.Context, env *verify.Env, node topology.Node) error {
	c, err := Root(env, node)
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
			paths = append(paths, ShellQuote(f.Path))
		}
	}
	parts, err := Facts(ctx, env, c,
		"cat /run/cloud-init/status.json",
		"cat /run/cloud-init/result.json",
		"cat /var/lib/cloud/data/instance-id",
		"sha256sum "+strings.Join(paths, " "),
		cloudInitLogCmd,
		failedUnitsCmd)
	if err != nil {
		return err
	}
	if err := checkFirstBoot(node, parts[0], parts[1], parts[2], want, parts[3]); err != nil {
		return err
	}
	return checkCleanBoot(parts[0], parts[1], parts[4], parts[5])
}

// cloudInitLog is where cloud-init logs; noCloudInitLog marks its absence.
// cloud_init_log.sh prints both as they are here: TestCloudInitLogCommand
// holds it to them.
const (
	cloudInitLog   = "/var/log/cloud-init.log"
	noCloudInitLog = "drivelab: no readable " + cloudInitLog
)

// cloudInitLogScript prints the first lines of cloud-init's log that
// verify_clean_boot refuses, as "N:text".
//
//go:embed cloud_init_log.sh
var cloudInitLogScript string

// cloudInitLogCmd is cloud_init_log.sh as one of Facts' commands: a
// newline before the "; }" Facts puts after it would be a syntax error.
var cloudInitLogCmd = strings.TrimSpace(cloudInitLogScript)

// failedUnitsCmd lists systemd's failed units, one "unit load active sub description" a line.
const failedUnitsCmd = "systemctl --failed --no-legend --plain --no-pager"

// checkCleanBoot refuses what cloud-init's integration tests refuse after a
// boot that otherwise went well: recoverable errors (cloud-init 23.4 and
// later record them in status.json and result.json), any WARNING or
// Traceback in its log, any failed systemd unit.
func checkCleanBoot(statusJSON, resultJSON, logLines, failedUnits string) error {
	if rec := recoverableErrors(statusJSON, resultJSON); len(rec) > 0 {
		return fmt.Errorf("cloud-init recoverable errors: %s", strings.Join(rec, "; "))
	}
	if strings.Contains(logLines, noCloudInitLog) {
		return errors.New(noCloudInitLog + "; cloud-init did not run, or logs elsewhere")
	}
	for _, line := range strings.Split(logLines, "\n") {
		if n, text, ok := strings.Cut(strings.TrimSpace(line), ":"); ok {
			if _, err := strconv.Atoi(n); err == nil {
				return fmt.Errorf("%s:%s: %s (a clean boot logs no WARNING or Traceback; see the node's cloud-init.log in the artifacts)", cloudInitLog, n, strings.TrimSpace(text))
			}
		}
	}
	for _, line := range strings.Split(failedUnits, "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if len(f) < 4 || !strings.Contains(f[0], ".") {
			return fmt.Errorf("systemctl --failed: unexpected output %q", strings.TrimSpace(failedUnits))
		}
		return fmt.Errorf("systemd unit %s failed (%s); see `systemctl status %s` on the node", f[0], strings.Join(f[1:], " "), f[0])
	}
	return nil
}

// recoverableErrors reads "recoverable_errors" ({"WARNING": [msg, ...]})
// from status.json's stages and result.json, as "LEVEL: msg".
func recoverableErrors(statusJSON, resultJSON string) []string {
	type rec = map[string][]string
	var out []string
	add := func(r rec) {
		for _, level := range slices.Sorted(maps.Keys(r)) {
			for _, msg := range r[level] {
				if s := level + ": " + msg; !slices.Contains(out, s) {
					out = append(out, s)
				}
			}
		}
	}
	var st struct {
		V1 map[string]json.RawMessage `json:"v1"`
	}
	if json.Unmarshal([]byte(statusJSON), &st) == nil {
		for _, key := range slices.Sorted(maps.Keys(st.V1)) {
			var stage struct {
				Recoverable rec `json:"recoverable_errors"`
			}
			if json.Unmarshal(st.V1[key], &stage) == nil {
				add(stage.Recoverable)
			}
		}
	}
	var res struct {
		V1 struct {
			Recoverable rec `json:"recoverable_errors"`
		} `json:"v1"`
	}
	if json.Unmarshal([]byte(resultJSON), &res) == nil {
		add(res.V1.Recoverable)
	}
	return out
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
