// Package render turns a topology and a flavor's templates into one
// config-drive description per node: meta_data, user_data, vendor_data,
// network_data and the files meta_data points at. It writes nothing; see
// framework/configdrive for the ISO.
package render

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"text/template"

	"go.yaml.in/yaml/v3"

	"github.com/drivelab/drivelab/framework/config"
	"github.com/drivelab/drivelab/framework/inputfile"
	"github.com/drivelab/drivelab/framework/topology"
	"github.com/drivelab/drivelab/framework/yamlstrict"
)

// Paths inside a config drive.
const (
	MetaDataPath    = "openstack/latest/meta_data.json"
	UserDataPath    = "openstack/latest/user_data"
	VendorDataPath  = "openstack/latest/vendor_data.json"
	NetworkDataPath = "openstack/latest/network_data.json"
)

// MetaDataTemplate, when a flavor or overlay provides it (shared or under
// nodes/<node>/), renders meta_data.json instead of the harness; it sees
// .Files for the files list. Without it meta_data.json follows the topology.
const MetaDataTemplate = "meta_data.json.tmpl"

// Input is what a rendering needs.
type Input struct {
	Topology *topology.Topology
	// TemplatesDir holds one directory per flavor (fixtures/templates).
	TemplatesDir string
	Flavor       string
	// Overlay optionally overrides templates: <Overlay>/<name> for every
	// node, <Overlay>/nodes/<node>/<name> for one node. The flavor directory
	// may hold nodes/<node>/<name> too; the overlay wins.
	Overlay string
	// PackageDir holds the flavor's package files. Empty leaves package
	// contents without Source (lint needs no packages; Build refuses them).
	PackageDir string
	// Access is the harness's way in, written to vendor_data.json; nil gives {}.
	Access *Access
}

// Access is the harness's SSH access to the nodes.
type Access struct {
	// AuthorizedKeys are public keys root accepts on every node.
	AuthorizedKeys []string
	// HostKeys maps each node name to its SSH host key, so the harness can pin it.
	HostKeys map[string]HostKey
}

// HostKey is an ed25519 key pair in OpenSSH format.
type HostKey struct {
	Private, Public string
}

// Drive is everything one node's config drive carries.
type Drive struct {
	Node        topology.Node
	MetaData    []byte
	UserData    []byte
	VendorData  []byte
	NetworkData []byte // nil when the flavor uses no network_data.json
	// Layout is the flavor's; LayoutFiles are the files it adds beside
	// openstack/latest/'s four and the contents (nil for LayoutLatest).
	Layout      Layout
	LayoutFiles []File
	Content     []Content
	// Templates maps drive paths to the template file each was rendered from.
	Templates map[string]string
}

// Content is one file meta_data's "files" list injects into the guest.
type Content struct {
	// Name is the logical file name from the topology's role (hosts, network, ...).
	Name string
	// GuestPath is where cloud-init writes it in the guest.
	GuestPath string
	// ContentPath is meta_data's content_path, relative to openstack/ ("/content/0000").
	ContentPath string
	// Data holds rendered bytes; nil for packages, which are streamed from Source.
	Data []byte
	// Source is the package file to stream ("" for rendered files, or when
	// Input.PackageDir was empty).
	Source string
	// Package is the package's file name in the package directory ("" for rendered files).
	Package string
}

// File is one file inside a drive: its path and its bytes or source file.
type File struct {
	Path   string
	Data   []byte
	Source string
}

// LineOf is the first line (1-based) of a rendered file holding s, 0 when
// none: where a check that read a value out of the file says it found it.
func LineOf(data []byte, s string) int {
	for i, line := range strings.Split(string(data), "\n") {
		if strings.Contains(line, s) {
			return i + 1
		}
	}
	return 0
}

// Error locates one rendering problem.
type Error struct {
	Node string // "" when the problem is not a node's
	File string // the template or flavor file
	Line int    // 0 when unknown
	Err  error
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.Node != "" {
		fmt.Fprintf(&b, "node %s: ", e.Node)
	}
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	b.WriteString(": ")
	b.WriteString(e.Err.Error())
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// Result is one rendering of a topology's drives. A run renders once and
// passes this value on: lint checks it, the drives are built from it, a kept
// lab diffs it against what its nodes booted.
type Result struct {
	// Topology is the topology rendered (nil only when Input had none).
	Topology *topology.Topology
	// Drives are the drives of the nodes that rendered completely, in
	// topology order: all of them when Render returned no error.
	Drives []Drive
}

// Complete reports whether every node of the topology has its drive.
func (r *Result) Complete() bool {
	return r != nil && r.Topology != nil && len(r.Drives) == len(r.Topology.Nodes)
}

// Render renders one drive per node, in topology order. Every problem found
// is returned in one errors.Join; template problems are *Error values
// naming node, file and line. The Result is never nil: on error it holds
// the drives of the nodes that rendered completely, so lint can check them.
func Render(ctx context.Context, in Input) (*Result, error) {
	res := &Result{Topology: in.Topology}
	if in.Topology == nil {
		return res, errors.New("render: Input.Topology is nil; load one with topology.Load")
	}
	fl, err := LoadFlavor(in.TemplatesDir, in.Flavor)
	if err != nil {
		return res, err
	}
	if err := errors.Join(checkOverlay(in.Topology, fl, in.Overlay), checkRoles(in.Topology, fl), checkPackages(in.Topology, fl, in.PackageDir), checkAccess(in.Topology, in.Access)); err != nil {
		return res, err
	}
	r := &renderer{in: in, flavor: fl, parsed: map[string]*template.Template{}, parseErr: map[string]error{}}
	var errs []error
	for _, n := range in.Topology.Nodes {
		if err := ctx.Err(); err != nil {
			return &Result{Topology: in.Topology}, err
		}
		d, derrs, ok := r.drive(ctx, n)
		errs = append(errs, derrs...)
		if ok {
			res.Drives = append(res.Drives, d)
		}
	}
	// A template that does not parse or runs away is reported once, not once per node.
	for _, p := range slices.Sorted(maps.Keys(r.parseErr)) {
		errs = append(errs, r.parseErr[p])
	}
	return res, errors.Join(errs...)
}

// checkRoles makes sure the flavor carries every file the roles name and
// that roles list exactly the packages their files carry.
func checkRoles(t *topology.Topology, fl *Flavor) error {
	var errs []error
	flavorFile := filepath.Join(fl.Dir, FlavorFile)
	for _, role := range slices.Sorted(maps.Keys(t.Roles)) {
		r := t.Roles[role]
		at := t.At("roles." + role)
		carried := map[string]bool{}
		for _, f := range r.Files {
			spec, ok := fl.Files[f]
			if !ok {
				errs = append(errs, fmt.Errorf("%s: role %q needs file %q, which flavor %s does not map; add files.%s to %s", at, role, f, fl.Name, f, flavorFile))
				continue
			}
			if spec.Package != "" {
				carried[spec.Package] = true
				if !slices.Contains(r.Packages, spec.Package) {
					errs = append(errs, fmt.Errorf("%s: role %q carries package %q (file %q) but does not list it under packages", at, role, spec.Package, f))
				}
			}
		}
		for _, p := range r.Packages {
			if !carried[p] {
				errs = append(errs, fmt.Errorf("%s: role %q lists package %q but none of its files carries it (flavor %s maps it to %q)", at, role, p, fl.Name, fl.Packages[p]))
			}
		}
		if err := fl.checkTemplateName(r.UserData); err != nil {
			errs = append(errs, fmt.Errorf("%s: role %q user_data: %v", at, role, err))
		}
	}
	return errors.Join(errs...)
}

// checkPackages makes sure every package a node carries is a non-empty file.
func checkPackages(t *topology.Topology, fl *Flavor, dir string) error {
	if dir == "" {
		return nil
	}
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return fmt.Errorf("package folder %s is missing or not a folder; give the folder holding %s's package files (%s)", dir, fl.Name, strings.Join(slices.Sorted(maps.Values(fl.Packages)), ", "))
	}
	var errs []error
	seen := map[string]bool{}
	for _, role := range slices.Sorted(maps.Keys(t.Roles)) {
		for _, p := range t.Roles[role].Packages {
			file := fl.Packages[p]
			if seen[file] || file == "" {
				continue
			}
			seen[file] = true
			src := filepath.Join(dir, file)
			st, err := os.Stat(src)
			switch {
			case err != nil:
				errs = append(errs, fmt.Errorf("package %s: %w; put %s in %s (the image build produces the debian12 bundles) or pass the directory that holds it", p, err, file, dir))
			case !st.Mode().IsRegular() || st.Size() == 0:
				errs = append(errs, fmt.Errorf("package %s: %s is not a non-empty regular file; rebuild or copy it again", p, src))
			}
		}
	}
	return errors.Join(errs...)
}

func checkAccess(t *topology.Topology, a *Access) error {
	if a == nil {
		return nil
	}
	var errs []error
	if len(a.AuthorizedKeys) == 0 {
		errs = append(errs, errors.New("render: Access.AuthorizedKeys is empty; give the run's public key (or pass a nil Access)"))
	}
	for i, k := range a.AuthorizedKeys {
		if !strings.HasPrefix(k, "ssh-") && !strings.HasPrefix(k, "ecdsa-") || strings.ContainsAny(k, "\r\n") {
			errs = append(errs, fmt.Errorf("render: Access.AuthorizedKeys[%d] is not one OpenSSH public key line", i))
		}
	}
	for _, n := range t.Nodes {
		hk, ok := a.HostKeys[n.Name]
		switch {
		case !ok:
			errs = append(errs, fmt.Errorf("render: node %s: Access.HostKeys has no host key; generate an ed25519 key per node", n.Name))
		case !strings.HasPrefix(hk.Public, "ssh-ed25519 ") || !strings.Contains(hk.Private, "BEGIN OPENSSH PRIVATE KEY"):
			errs = append(errs, fmt.Errorf("render: node %s: Access.HostKeys holds no ed25519 key pair in OpenSSH format", n.Name))
		}
	}
	for _, name := range slices.Sorted(maps.Keys(a.HostKeys)) {
		if _, ok := t.Node(name); !ok {
			errs = append(errs, fmt.Errorf("render: Access.HostKeys names %q, which is not a node of %s", name, t.Path))
		}
	}
	return errors.Join(errs...)
}

type renderer struct {
	in     Input
	flavor *Flavor
	parsed map[string]*template.Template // by file path
	// parseErr holds, by file path, the error of a template that does not
	// parse or that ran away (too much output or time): each is reported
	// once, and a runaway one is not run again for every node.
	parseErr map[string]error
	// rendered counts the bytes rendered so far, for MaxRenderedTotal.
	rendered int
}

// Data is what every template sees.
type Data struct {
	// Node is the node whose drive is rendered.
	Node    topology.Node
	Network topology.Network
	// Nodes are all nodes, in topology order.
	Nodes []topology.Node
	// Files are meta_data's "files": what this node's drive injects, in order.
	Files []MetaFile
	node  string
	paths map[string]string
	roles map[string]topology.Role
}

// NodesWithRole are the nodes of one of the topology's roles, in topology
// order, so that a template names the roles it lists, not the harness:
// {{range .NodesWithRole "backend"}}. A role the topology does not define is an
// error, not an empty list.
func (d Data) NodesWithRole(role string) ([]topology.Node, error) {
	if _, ok := d.roles[role]; !ok {
		return nil, fmt.Errorf("node %s: NodesWithRole %q: the topology defines no such role (it has %s)", d.node, role, strings.Join(slices.Sorted(maps.Keys(d.roles)), ", "))
	}
	var out []topology.Node
	for _, n := range d.Nodes {
		if n.Role == role {
			out = append(out, n)
		}
	}
	return out, nil
}

// Path is the guest path of a logical file this node carries:
// {{.Path "hosts"}}.
func (d Data) Path(logical string) (string, error) {
	p, ok := d.paths[logical]
	if !ok {
		return "", fmt.Errorf("node %s carries no file %q (it carries %s)", d.node, logical, strings.Join(slices.Sorted(maps.Keys(d.paths)), ", "))
	}
	return p, nil
}

// drive renders one node's drive; ok is false when anything failed,
// including a template that does not parse (reported once by Render).
func (r *renderer) drive(ctx context.Context, n topology.Node) (d Drive, errs []error, ok bool) {
	t := r.in.Topology
	role := t.Roles[n.Role]
	data := Data{Node: n, Network: t.Network, Nodes: t.Nodes, node: n.Name, paths: map[string]string{}, roles: t.Roles}
	for _, f := range role.Files {
		spec := r.flavor.Files[f]
		if spec.Path != "" {
			data.paths[f] = spec.Path
		}
		if spec.NetworkData == "" {
			data.Files = append(data.Files, MetaFile{Path: spec.Path, ContentPath: fmt.Sprintf("/content/%04d", len(data.Files))})
		}
	}
	d = Drive{Node: n, Templates: map[string]string{}}
	unparsed := false
	render := func(drivePath, name string) []byte {
		out, file, err := r.execute(ctx, n.Name, name, data)
		if err == errParse {
			unparsed = true
			return nil
		}
		if err != nil {
			errs = append(errs, err)
			return nil
		}
		d.Templates[drivePath] = file
		return out
	}
	d.UserData = render(UserDataPath, role.UserData)
	if err := cloudConfigYAML(n.Name, d.Templates[UserDataPath], d.UserData); err != nil {
		errs = append(errs, err)
	}
	for _, f := range role.Files {
		spec := r.flavor.Files[f]
		if spec.NetworkData != "" {
			d.NetworkData = render(NetworkDataPath, spec.NetworkData)
			continue
		}
		c := Content{Name: f, GuestPath: spec.Path, ContentPath: data.Files[len(d.Content)].ContentPath}
		if spec.Package != "" {
			c.Package = r.flavor.Packages[spec.Package]
			if r.in.PackageDir != "" {
				c.Source = filepath.Join(r.in.PackageDir, c.Package)
			}
		} else {
			c.Data = render(ContentFile(c.ContentPath), spec.Template)
		}
		d.Content = append(d.Content, c)
	}
	var err error
	if _, ok := r.lookup(n.Name, MetaDataTemplate); ok && r.flavor.Layout != LayoutNova {
		d.MetaData = render(MetaDataPath, MetaDataTemplate)
	} else if r.flavor.Layout != LayoutNova {
		meta := metaData{Hostname: n.FQDN, Name: n.InstanceName, UUID: n.UUID, Files: append([]MetaFile{}, data.Files...)}
		if d.MetaData, err = json.MarshalIndent(meta, "", "    "); err != nil {
			errs = append(errs, err)
		}
		d.MetaData = append(d.MetaData, '\n')
	}
	if d.VendorData, err = vendorData(n, r.in.Access); err != nil {
		errs = append(errs, err)
	}
	if r.flavor.Layout == LayoutNova {
		if err := r.novaLayout(&d, data.Files); err != nil {
			errs = append(errs, err)
		}
	}
	return d, errs, len(errs) == 0 && !unparsed
}

// metaData is meta_data.json, in the seed's key order.
type metaData struct {
	Files       []MetaFile `json:"files"`
	Hostname    string     `json:"hostname"`
	LaunchIndex int        `json:"launch_index"`
	Name        string     `json:"name"`
	UUID        string     `json:"uuid"`
}

// MetaFile is one entry of meta_data's "files".
type MetaFile struct {
	Path        string `json:"path"`
	ContentPath string `json:"content_path"`
}

// errParse marks a template that did not parse; its *Error is reported once.
var errParse = errors.New("template does not parse")

// execute renders template name for a node, returning the bytes and the
// template file used. The output is bounded (inputfile.MaxRendered) and so
// is the time (renderTimeout); a cancelled ctx stops it at once.
func (r *renderer) execute(ctx context.Context, node, name string, data Data) ([]byte, string, error) {
	file, _ := r.lookup(node, name)
	if _, ok := r.parseErr[file]; ok {
		return nil, file, errParse
	}
	tmpl, err := r.parse(file)
	if err != nil {
		return nil, file, errParse
	}
	if r.rendered >= inputfile.MaxRenderedTotal {
		return nil, file, &Error{Node: node, File: file, Err: fmt.Errorf("not rendered: the drives' files rendered so far hold %s together, the most a topology's drives may; look for a template that renders far more than it should", inputfile.Size(inputfile.MaxRenderedTotal))}
	}
	ctx, cancel := context.WithTimeoutCause(ctx, renderTimeout, errSlow)
	defer cancel()
	out := &boundedBuffer{ctx: ctx, max: min(inputfile.MaxRendered, inputfile.MaxRenderedTotal-r.rendered)}
	done := make(chan error, 1)
	go func() { done <- tmpl.Execute(out, data) }()
	select {
	case err = <-done:
	case <-ctx.Done():
		// A loop that writes nothing never sees ctx: it is left to end on
		// its own (the command exits; its output is never read).
		err = context.Cause(ctx)
	}
	switch {
	case err == nil:
		r.rendered += out.Len()
		return out.Bytes(), file, nil
	case errors.Is(err, errSlow):
		r.parseErr[file] = &Error{Node: node, File: file, Err: fmt.Errorf("still rendering after %s, so it was stopped; a template renders in milliseconds: look for a loop that does not end ({{range}} over a large number)", renderTimeout)}
		return nil, file, errParse
	case errors.Is(err, errTooBig) && out.max < inputfile.MaxRendered:
		return nil, file, &Error{Node: node, File: file, Err: fmt.Errorf("stopped: with it the drives' rendered files would hold over %s together, the most a topology's drives may; look for a template that renders far more than it should", inputfile.Size(inputfile.MaxRenderedTotal))}
	case errors.Is(err, errTooBig):
		r.parseErr[file] = &Error{Node: node, File: file, Err: fmt.Errorf("renders more than %s, so it was stopped there; a drive file is kilobytes: look for a loop that does not end ({{range}} over a large number)", inputfile.Size(inputfile.MaxRendered))}
		return nil, file, errParse
	case ctx.Err() != nil:
		return nil, file, context.Cause(ctx)
	}
	return nil, file, templateError(node, file, err)
}

// renderTimeout bounds one template's rendering (config.RenderTimeout).
const renderTimeout = config.RenderTimeout

var (
	errSlow   = errors.New("template still rendering at its deadline")
	errTooBig = errors.New("template output over its limit")
)

// boundedBuffer is the output of one template: it refuses to grow past max
// and stops the template once ctx is done, since text/template checks
// nothing itself.
type boundedBuffer struct {
	bytes.Buffer
	ctx context.Context
	max int
}

func (b *boundedBuffer) Write(p []byte) (int, error) {
	if err := b.ctx.Err(); err != nil {
		return 0, context.Cause(b.ctx)
	}
	if b.Len()+len(p) > b.max {
		return 0, errTooBig
	}
	return b.Buffer.Write(p)
}

// lookup finds the file a template name resolves to for one node: overlay
// first, then the flavor's folders (Flavor.Dirs), per-node override before
// shared in each. ok is false when none exists; the
// flavor's own file is returned then (LoadFlavor made sure the ones it names
// exist).
func (r *renderer) lookup(node, name string) (string, bool) {
	var candidates []string
	for _, dir := range append([]string{r.in.Overlay}, r.flavor.Dirs()...) {
		if dir != "" {
			candidates = append(candidates, filepath.Join(dir, "nodes", node, name), filepath.Join(dir, name))
		}
	}
	for _, c := range candidates {
		// Whatever is there is used: parse refuses what is not a regular file.
		if _, err := os.Stat(c); err == nil {
			return c, true
		}
	}
	return filepath.Join(r.flavor.Dir, name), false
}

func (r *renderer) parse(file string) (*template.Template, error) {
	if t, ok := r.parsed[file]; ok {
		return t, nil
	}
	if err, ok := r.parseErr[file]; ok {
		return nil, err
	}
	src, err := inputfile.Read(file, "template", inputfile.MaxTemplate)
	if err == nil {
		var t *template.Template
		t, err = template.New(file).Option("missingkey=error").Funcs(funcs).Parse(string(src))
		if err == nil {
			r.parsed[file] = t
			return t, nil
		}
		err = templateError("", file, err)
	}
	r.parseErr[file] = err
	return nil, err
}

// templateErrRE splits text/template's "template: NAME:LINE[:COL]: MSG".
var templateErrRE = regexp.MustCompile(`(?s)^template: (.+?):(\d+)(?::\d+)?: (?:executing ".*?" )?(.*)$`)

// dataHint names what a template sees: every exported field and method of
// Data (a test holds the two together).
const dataHint = `templates see .Node .Network .Nodes .Files, .NodesWithRole "<role>" and .Path "<file>"; see render.Data`

func templateError(node, file string, err error) error {
	e := &Error{Node: node, File: file, Err: err}
	if m := templateErrRE.FindStringSubmatch(err.Error()); m != nil {
		e.File = m[1]
		e.Line, _ = strconv.Atoi(m[2])
		e.Err = errors.New(m[3])
		if strings.Contains(m[3], "can't evaluate field") || strings.Contains(m[3], "no entry for key") {
			e.Err = fmt.Errorf("%s (%s)", m[3], dataHint)
		}
	}
	return e
}

// cloudConfigYAML refuses #cloud-config user_data that is not a YAML
// mapping: cloud-init would drop it with a warning minutes into the boot.
func cloudConfigYAML(node, file string, data []byte) error {
	first, _, _ := bytes.Cut(data, []byte("\n"))
	if string(bytes.TrimSpace(first)) != "#cloud-config" {
		return nil
	}
	var v any
	err := yaml.Unmarshal(data, &v)
	if err == nil {
		if _, ok := v.(map[string]any); ok || v == nil {
			return nil
		}
		what := "a single value"
		if _, ok := v.([]any); ok {
			what = "a list"
		}
		err = fmt.Errorf("the document is %s, not a mapping of modules (runcmd:, users:, ...)", what)
	}
	line, msg := yamlstrict.ErrorLine(err.Error())
	e := &Error{Node: node, File: file, Err: fmt.Errorf("user_data is #cloud-config but not valid cloud-config YAML: %s; fix the YAML (cloud-init would ignore all of it)", msg)}
	e.Line = sourceLine(file, data, line)
	if e.Line == 0 && line > 0 {
		e.Err = fmt.Errorf("%w (rendered line %d)", e.Err, line)
	}
	return e
}

// sourceLine is the line of template file that reads exactly as line n of
// its rendering, when exactly one does; 0 otherwise.
func sourceLine(file string, rendered []byte, n int) int {
	lines := strings.Split(string(rendered), "\n")
	src, err := inputfile.Read(file, "template", inputfile.MaxTemplate)
	if n < 1 || n > len(lines) || err != nil {
		return 0
	}
	found := 0
	for i, l := range strings.Split(string(src), "\n") {
		if l == lines[n-1] {
			if found > 0 {
				return 0
			}
			found = i + 1
		}
	}
	return found
}

// vendorData is vendor_data.json: the harness's access as cloud-config, or {}.
func vendorData(n topology.Node, a *Access) ([]byte, error) {
	if a == nil {
		return []byte("{}\n"), nil
	}
	hk := a.HostKeys[n.Name]
	cc := cloudConfig{
		SSHAuthorizedKeys: a.AuthorizedKeys,
		SSHKeys:           map[string]string{"ed25519_private": hk.Private, "ed25519_public": hk.Public},
		SSHDeleteKeys:     true,
	}
	y, err := marshalYAML(cc)
	if err != nil {
		return nil, fmt.Errorf("node %s: vendor_data: %w", n.Name, err)
	}
	out, err := json.MarshalIndent(map[string]string{"cloud-init": "#cloud-config\n" + string(y)}, "", "    ")
	return append(out, '\n'), err
}

// cloudConfig is the harness's access: root login with the run's key, and a
// host key it knows in advance instead of freshly generated ones. With
// ssh_keys given, cloud-init's ssh module writes those and generates none
// (ssh_genkeytypes is read only without ssh_keys; an empty list fails
// cloud-init's schema, "[] is too short"); ssh_deletekeys removes the image's
// own keys first, so the pinned key is the only one sshd offers.
type cloudConfig struct {
	DisableRoot       bool              `yaml:"disable_root"`
	SSHAuthorizedKeys []string          `yaml:"ssh_authorized_keys"`
	SSHKeys           map[string]string `yaml:"ssh_keys"`
	SSHDeleteKeys     bool              `yaml:"ssh_deletekeys"`
}
