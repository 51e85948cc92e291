package lint

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/drivelab/drivelab/framework/render"
)

// driveView is what the host's cloud-init makes of one whole drive
// (guestview.py's drive()).
type driveView struct {
	// ReaderError is the ConfigDrive reader's BrokenMetadata or
	// NonReadable: the guest would ignore the whole drive.
	ReaderError string `json:"reader_error"`
	// SelectedVersion is the folder the reader selected: the newest dated
	// one it knows, else "latest"; "" if it logged none.
	SelectedVersion string `json:"selected_version"`
	// Injected are the guest paths the reader gets from meta_data's "files".
	Injected []string `json:"injected"`
	// Parts are user_data as cloud-init's user-data processor splits it.
	Parts    []userPart `json:"parts"`
	Problems []struct {
		Line    int    `json:"line"`
		Message string `json:"message"`
		Warning bool   `json:"warning"`
	} `json:"problems"`
	// Schema is the merged cloud-config's schema check.
	Schema struct {
		Errors       []schemaProblem `json:"errors"`
		Deprecations []schemaProblem `json:"deprecations"`
	} `json:"schema"`
	// Access says what merging user_data over vendor_data takes away from
	// the harness (root key, pinned host key, the ssh module).
	Access []struct {
		Key     string `json:"key"`
		Line    int    `json:"line"`
		Message string `json:"message"`
	} `json:"access"`
	// Hashes maps each crypt hash found in user_data to whether it is the
	// node's password (crypt(3), as chpasswd -e takes it).
	Hashes map[string]bool `json:"hashes"`
	// Merged is user_data's merged cloud-config, as JSON.
	Merged json.RawMessage `json:"merged"`
}

// userPart is one part of user_data as cloud-init hands it to a handler.
type userPart struct {
	Type     string `json:"type"` // text/cloud-config, text/x-shellscript, ...
	Filename string `json:"filename"`
	Text     string `json:"text"` // a boothook's without its #cloud-boothook line, a jinja template rendered
	// Line is the line of user_data where Text's first line is; 0 when
	// Text is not in user_data as such (gzip, base64, rendered jinja).
	Line  int  `json:"line"`
	Jinja bool `json:"jinja"`
}

func (u userPart) script() bool {
	return strings.HasPrefix(u.Type, "text/x-shellscript") || u.Type == "text/cloud-boothook"
}

// where locates line n (1-based) of a part: in user_data when the part is
// there as such, else 0 and a note naming the part's own line.
func (u userPart) where(n int) (int, string) {
	if u.Line > 0 {
		return u.Line + n - 1, ""
	}
	return 0, fmt.Sprintf(" (%s, line %d of the part as cloud-init sees it)", u.Filename, n)
}

func newDriveJob(d render.Drive) driveJob {
	files := map[string][]byte{}
	for _, f := range d.Files() {
		// Packages are not read by lint; the reader only needs them to exist.
		files[f.Path] = f.Data
		if f.Data == nil {
			files[f.Path] = []byte{}
		}
	}
	return driveJob{Files: files, Password: d.Node.Password}
}

// driveReader reports what cloud-init's ConfigDrive reader refuses, and
// every file the role injects that the reader does not get from meta_data's
// "files" (a meta_data template with "files": [] would inject nothing, and
// the checks of those files on the guest would have nothing to check).
func (p *Pass) driveReader(d render.Drive, v *driveView) {
	injected := v.injected()
	if v != nil && v.ReaderError != "" {
		file, line, fix := readerFix(d, v.ReaderError, v.SelectedVersion)
		if strings.Contains(v.ReaderError, "Missing mandatory path") && v.SelectedVersion != "latest" {
			fix = fmt.Sprintf("cloud-init %s reads %s/, the newest version folder it knows, instead of openstack/latest/, and needs %s there: give every dated folder its meta_data.json (render the drive again) or remove the folder", p.cloudInit, path.Dir(file), path.Base(file))
		}
		p.Reportf(d, file, line, "cloud-init's ConfigDrive reader refuses the drive (%s): the guest would ignore the whole drive, user_data and network included; %s", v.ReaderError, fix)
		return
	}
	if injected == nil {
		injected = metaFiles(d.MetaData)
		if injected == nil {
			return // not JSON: reported
		}
	}
	for _, c := range d.Content {
		if !slices.Contains(injected, c.GuestPath) {
			p.Reportf(d, render.MetaDataPath, render.LineOf(d.MetaData, `"files"`),
				"meta_data's \"files\" does not inject %s (the role's %q file, drive %s), so the guest never gets it; list every file: \"files\": {{json .Files}}",
				c.GuestPath, c.Name, render.ContentFile(c.ContentPath))
		}
	}
}

func (v *driveView) injected() []string {
	if v == nil {
		return nil
	}
	if v.Injected == nil {
		return []string{}
	}
	return v.Injected
}

// metaFiles are the paths meta_data's "files" names (without cloud-init).
func metaFiles(meta []byte) []string {
	var md struct {
		Files []struct {
			Path string `json:"path"`
		} `json:"files"`
	}
	if json.Unmarshal(meta, &md) != nil {
		return nil
	}
	out := []string{}
	for _, f := range md.Files {
		out = append(out, f.Path)
	}
	return out
}

// drivePathRE finds a file of a version folder in a reader's message, which
// names files by their path on the drive.
var drivePathRE = regexp.MustCompile(`\b(?:openstack|ec2)/[^\s/:'"]+/[^\s/:'"]+`)

// readerFix names the file the reader broke on, the line and a fix: the
// file the message names, else the one of that name in the folder the
// reader selected (selected: a version, "latest", or "" when unknown).
func readerFix(d render.Drive, msg, selected string) (string, int, string) {
	if selected == "" {
		selected = "latest"
	}
	file := render.VersionPath(selected, path.Base(render.MetaDataPath))
	for _, f := range []string{render.VendorDataPath, render.NetworkDataPath, render.MetaDataPath} {
		if strings.Contains(msg, path.Base(f)) {
			file = render.VersionPath(selected, path.Base(f))
		}
	}
	if named := drivePathRE.FindString(msg); named != "" {
		file = named
	}
	data := fileData(d, file)
	switch {
	case !utf8.Valid(data):
		n, b := firstInvalid(data)
		return file, n, fmt.Sprintf("byte 0x%02x on line %d of %s is not UTF-8: write the character in UTF-8 or as a JSON \\u escape", b, n, file)
	case strings.Contains(msg, "random_seed"):
		return file, render.LineOf(data, `"random_seed"`), `"random_seed" must be base64 (e.g. "cmFuZG9t"), or drop it: cloud-init decodes it with base64`
	case strings.Contains(msg, "No 'uuid'"):
		return file, 0, `give meta_data a "uuid": {{json .Node.UUID}}`
	}
	return file, 0, "fix " + file
}

func firstInvalid(data []byte) (line int, b byte) {
	for i := 0; i < len(data); {
		r, size := utf8.DecodeRune(data[i:])
		if r == utf8.RuneError && size == 1 {
			return bytes.Count(data[:i], []byte("\n")) + 1, data[i]
		}
		i += size
	}
	return 0, 0
}

// userData checks user_data part by part, as cloud-init runs it, and
// returns the parts. Without cloud-init, user_data is one part, typed by
// its first line.
func (p *Pass) userData(ctx context.Context, d render.Drive, v *driveView) []userPart {
	if v == nil {
		part, ok := wholePart(d.UserData)
		if !ok {
			p.Reportf(d, render.UserDataPath, 1, "%s", unhandled(d.UserData))
			return nil
		}
		if part.script() {
			p.script(ctx, d, part)
		}
		return []userPart{part}
	}
	for _, pr := range v.Problems {
		w := p.at(d, render.UserDataPath, pr.Line, pr.Message)
		if pr.Warning {
			w.Severity = SeverityWarning
		}
		p.Report(w)
	}
	if len(v.Parts) == 0 && len(v.Problems) == 0 {
		p.Reportf(d, render.UserDataPath, 1, "%s", unhandled(d.UserData))
	}
	for _, part := range v.Parts {
		switch {
		case part.script():
			p.script(ctx, d, part)
		case part.Type == "text/cloud-config", part.Type == "text/cloud-config-jsonp", part.Type == "text/part-handler":
		default:
			line, note := part.where(1)
			what := unhandled([]byte(part.Text))
			if part.Jinja {
				what = "the jinja template renders to neither #cloud-config nor a #! script; cloud-init would ignore it"
			} else if part.Type != "text/x-not-multipart" && part.Type != "text/plain" {
				what = fmt.Sprintf("cloud-init has no handler for part %s (%s) and would ignore it: give it a known Content-Type or begin it with #cloud-config or #!", part.Filename, part.Type)
			}
			p.Reportf(d, render.UserDataPath, line, "%s%s", what, note)
		}
	}
	p.schema(cloudConfigJob{d: d, drivePath: render.UserDataPath}, p.cloudInit, v.Schema.Errors, v.Schema.Deprecations)
	for _, a := range v.Access {
		p.Reportf(d, render.UserDataPath, a.Line, "user_data would lock the harness out: %s", a.Message)
	}
	return v.Parts
}

func unhandled(data []byte) string {
	first, _, _ := bytes.Cut(data, []byte("\n"))
	return fmt.Sprintf("user_data starts with %q, which cloud-init runs as nothing (it logs `Unhandled non-multipart userdata`); begin it with #! (a script), #cloud-config, #cloud-boothook or ## template: jinja, or make it MIME multipart", first)
}

// wholePart types user_data by its first line, as cloud-init does when
// not multipart; false when no handler takes it. Formats only cloud-init
// can open (gzip, MIME) are taken as they are.
func wholePart(data []byte) (userPart, bool) {
	part := userPart{Filename: "user_data", Text: string(data), Line: 1}
	switch t := string(data); {
	case strings.HasPrefix(t, "#!"):
		part.Type = "text/x-shellscript"
	case strings.HasPrefix(t, "#cloud-boothook"):
		part.Type = "text/cloud-boothook"
		_, rest, _ := strings.Cut(strings.ReplaceAll(t, "\r\n", "\n"), "\n")
		part.Text, part.Line = strings.TrimLeft(rest, " \t\n"), 2
	case strings.HasPrefix(t, "#cloud-config"), strings.HasPrefix(t, "## template:"), strings.HasPrefix(t, "#include"), strings.HasPrefix(t, "#part-handler"):
		part.Type = "text/cloud-config"
	case bytes.HasPrefix(data, []byte{0x1f, 0x8b}), strings.Contains(strings.ToLower(t[:min(len(t), 4096)]), "mime-version:"):
		part.Type = "application/octet-stream"
	default:
		return part, false
	}
	return part, true
}

// shebangRE reads a #! line: the interpreter and its arguments.
var shebangRE = regexp.MustCompile(`^#!\s*(\S+)(.*)$`)

// shellOf is the shell that runs a script whose first line is first, and
// how lint checks it: bash for every bash form (#!/bin/bash -e,
// #!/usr/bin/env bash), dash for /bin/sh (Debian's sh is dash); "" for
// other interpreters.
func shellOf(first string) string {
	m := shebangRE.FindStringSubmatch(first)
	if m == nil {
		return ""
	}
	name := path.Base(m[1])
	if name == "env" {
		name = ""
		for _, f := range strings.Fields(m[2]) {
			if !strings.HasPrefix(f, "-") && !strings.Contains(f, "=") {
				name = path.Base(f)
				break
			}
		}
	}
	switch name {
	case "bash":
		return "bash"
	case "sh", "dash":
		return "dash"
	}
	return ""
}

// crLine is the first line (1-based) holding a carriage return; 0 when none.
func crLine(text string) int {
	i := strings.IndexByte(text, '\r')
	if i < 0 {
		return 0
	}
	return strings.Count(text[:i], "\n") + 1
}

// shellErrorRE matches `bash -n FILE`'s "FILE: line N: message" and
// `dash -n FILE`'s "FILE: N: message".
var shellErrorRE = regexp.MustCompile(`^.*?: (?:line )?(\d+): (.*)$`)

// script checks a script part with the shell that runs it: a syntax error
// would otherwise show only in the guest's cloud-init log, minutes into a
// boot. A boothook has its CRs removed by cloud-init; any other script
// with a CR breaks (the kernel looks for "/bin/bash\r").
func (p *Pass) script(ctx context.Context, d render.Drive, part userPart) {
	first, _, _ := strings.Cut(part.Text, "\n")
	if part.Type == "text/cloud-boothook" && !strings.HasPrefix(first, "#!") {
		line, note := part.where(1)
		p.Reportf(d, render.UserDataPath, line, "a #cloud-boothook runs as an executable, but its next line is %q: put #!/bin/sh (or #!/bin/bash) right after #cloud-boothook%s", first, note)
		return
	}
	if n := crLine(part.Text); n > 0 {
		line, note := part.where(n)
		what := "the script's lines would carry the CR into every command"
		if n == 1 {
			what = fmt.Sprintf("the kernel would look for the interpreter %q and the script would not run", strings.TrimPrefix(strings.Fields(first)[0], "#!")+"\r")
		}
		p.Reportf(d, render.UserDataPath, line, "line %d of the script ends in a carriage return (CRLF line endings): %s; save it with LF line endings%s", n, what, note)
		return
	}
	shell := shellOf(first)
	if shell == "" {
		return // another interpreter: lint has no checker for it
	}
	bin, err := exec.LookPath(shell)
	if err != nil {
		p.Skip(shell + " -n: " + shell + " is not on PATH (install " + shell + "; make test does)")
		return
	}
	label := shell + " -n"
	if shell == "dash" {
		label = "dash -n (Debian's /bin/sh)"
	}
	f, err := os.CreateTemp("", "drivelab-user-data-")
	if err != nil {
		p.add(d.Node.Name, "", 0, "%s: %v", label, err)
		return
	}
	defer os.Remove(f.Name())
	_, err = f.WriteString(part.Text)
	if err = errors.Join(err, f.Close()); err != nil {
		p.add(d.Node.Name, "", 0, "%s: %v", label, err)
		return
	}
	out, err := exec.CommandContext(ctx, bin, "-n", f.Name()).CombinedOutput()
	if err == nil || ctx.Err() != nil {
		return
	}
	reported := false
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if m := shellErrorRE.FindStringSubmatch(l); m != nil && !strings.HasPrefix(m[2], "`") {
			n, _ := strconv.Atoi(m[1])
			line, note := part.where(n)
			p.Reportf(d, render.UserDataPath, line, "%s: %s%s", label, m[2], note)
			reported = true
		}
	}
	if !reported {
		p.add(d.Node.Name, d.Templates[render.UserDataPath], 0, "%s rejects user_data: %v\n%s", label, err, strings.ReplaceAll(string(out), f.Name(), render.UserDataPath))
	}
}

// AllowDevice on a line silences the device-path warning for it.
const AllowDevice = "drivelab: allow-device"

// deviceRE finds block devices a config drive never is on a cloud: Nova
// attaches it as a CD-ROM (/dev/sr0) labelled config-2, or, on some
// clouds, as the last virtio disk, never a fixed /dev/vdb or SCSI name.
var deviceRE = regexp.MustCompile(`/dev/(?:vd[b-z][0-9]*|sd[a-z]+[0-9]*|xvd[b-z][0-9]*|disk/by-path/[^\s'"]*)`)

// deviceLines are the lines (1-based) naming such a device, without the
// allow comment, and the device each names first.
func deviceLines(text string) (lines []int, devices []string) {
	for i, l := range strings.Split(text, "\n") {
		if dev := deviceRE.FindString(l); dev != "" && !strings.Contains(l, AllowDevice) {
			lines, devices = append(lines, i+1), append(devices, dev)
		}
	}
	return lines, devices
}

// devicePaths warns about a device a template names that the config drive
// never is: a mount that works on one boot path fails on a cloud.
func (p *Pass) devicePaths(d render.Drive, parts []userPart) {
	warn := func(file string, line int, dev, note string) {
		w := p.at(d, file, line, fmt.Sprintf("names %s, which the config drive never is on a cloud (a CD-ROM there, /dev/sr0); find it by its label: /dev/disk/by-label/config-2 (or add `# %s` to the line if the device is deliberate)%s", dev, AllowDevice, note))
		w.Severity = SeverityWarning
		p.Report(w)
	}
	if utf8.Valid(d.UserData) {
		lines, devs := deviceLines(string(d.UserData))
		for i := range lines {
			warn(render.UserDataPath, lines[i], devs[i], "")
		}
	}
	for _, part := range parts {
		if part.Line > 0 && utf8.Valid(d.UserData) {
			continue // scanned as user_data
		}
		lines, devs := deviceLines(part.Text)
		for i := range lines {
			_, note := part.where(lines[i])
			warn(render.UserDataPath, 0, devs[i], note)
		}
	}
	for _, c := range d.Content {
		if c.Data == nil {
			continue
		}
		lines, devs := deviceLines(string(c.Data))
		for i := range lines {
			warn(render.ContentFile(c.ContentPath), lines[i], devs[i], "")
		}
	}
}
