package render

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/drivelab/drivelab/framework/inputfile"
	"github.com/drivelab/drivelab/framework/yamlstrict"
)

// FlavorFile is the name of a flavor's description inside its directory.
const FlavorFile = "flavor.yaml"

// Flavor is one guest OS's way of carrying the topology's logical files,
// loaded from <templates>/<flavor>/flavor.yaml.
type Flavor struct {
	Name string `yaml:"-"`
	// Dir holds flavor.yaml and the templates it names.
	Dir string `yaml:"-"`
	// TemplatesFrom names a sibling flavor (flavor.yaml templates_from)
	// whose folder templates are looked up in after Dir, and whose files
	// and packages this flavor takes when it gives none: a flavor that
	// differs only in its layout names only that.
	TemplatesFrom string `yaml:"templates_from"`
	// Layout is how the drive lays its files out (flavor.yaml layout;
	// LayoutLatest when absent): see layout.go.
	Layout Layout `yaml:"layout"`
	// Files maps each logical file name of the topology's roles to how it
	// reaches the guest.
	Files map[string]FileSpec `yaml:"files"`
	// Packages maps a logical package name to its file name in the package directory.
	Packages map[string]string `yaml:"packages"`
	// baseDir is TemplatesFrom's folder; "" without one.
	baseDir string
}

// Dirs are the folders templates are looked up in, in order: the flavor's
// own, then TemplatesFrom's.
func (fl *Flavor) Dirs() []string {
	if fl.baseDir == "" {
		return []string{fl.Dir}
	}
	return []string{fl.Dir, fl.baseDir}
}

// FileSpec says how one logical file reaches the guest: a template or a
// package written to Path through meta_data's "files", or a template that
// becomes openstack/latest/network_data.json.
type FileSpec struct {
	Path        string `yaml:"path"`
	Template    string `yaml:"template"`
	Package     string `yaml:"package"`
	NetworkData string `yaml:"network_data"`
}

// LoadFlavor reads and checks <templatesDir>/<name>/flavor.yaml, including
// that every template it names exists.
func LoadFlavor(templatesDir, name string) (*Flavor, error) {
	dir := filepath.Join(templatesDir, name)
	file := filepath.Join(dir, FlavorFile)
	if name == "" || strings.ContainsAny(name, `/\`) || name == "." || name == ".." {
		return nil, fmt.Errorf("flavor %q: give the name of a directory in %s (%s)", name, templatesDir, strings.Join(flavorNames(templatesDir), ", "))
	}
	if st, err := os.Stat(templatesDir); err != nil || !st.IsDir() {
		return nil, fmt.Errorf("templates folder %q is missing or not a folder; give the folder holding one folder per flavor, such as fixtures/templates", templatesDir)
	}
	data, err := inputfile.Read(file, "flavor file", inputfile.MaxFlavor)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("flavor %q: %s does not exist; known flavors in %s: %s", name, file, templatesDir, strings.Join(flavorNames(templatesDir), ", "))
	}
	if err != nil {
		return nil, fmt.Errorf("flavor %q: %w", name, err)
	}
	fl := &Flavor{Name: name, Dir: dir}
	fields, err := yamlstrict.Decode(file, data, fl, "fields: layout, templates_from, files.<name>.{path,template,package,network_data}, packages; see fixtures/templates/debian12/flavor.yaml and debian12-nova/flavor.yaml")
	if err != nil {
		return nil, err
	}
	if err := fl.inherit(templatesDir, file, fields); err != nil {
		return nil, err
	}
	if err := fl.validate(file, fields); err != nil {
		return nil, err
	}
	return fl, nil
}

// inherit takes files and packages from the templates_from flavor when
// this one gives none. One level only: a chain would hide where a template
// comes from.
func (fl *Flavor) inherit(templatesDir, file string, fields yamlstrict.Fields) error {
	base := fl.TemplatesFrom
	if base == "" {
		return nil
	}
	at := fields.At(file, "templates_from")
	if base == fl.Name || strings.ContainsAny(base, `/\`) || base == "." || base == ".." {
		return fmt.Errorf("%s: templates_from %q must name another flavor, a sibling folder of %s (%s)", at, base, fl.Dir, strings.Join(flavorNames(templatesDir), ", "))
	}
	b, err := LoadFlavor(templatesDir, base)
	if err != nil {
		return fmt.Errorf("%s: templates_from %q: %w", at, base, err)
	}
	if b.TemplatesFrom != "" {
		return fmt.Errorf("%s: templates_from %q: that flavor takes its templates from %q itself; name %q here instead (one level only)", at, base, b.TemplatesFrom, b.TemplatesFrom)
	}
	fl.baseDir = b.Dir
	if fl.Files == nil {
		fl.Files = b.Files
	}
	if fl.Packages == nil {
		fl.Packages = b.Packages
	}
	return nil
}

func (fl *Flavor) validate(file string, fields yamlstrict.Fields) error {
	var errs []error
	key := ""
	fail := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", fields.At(file, key), fmt.Sprintf(format, args...)))
	}
	key = "layout"
	switch fl.Layout {
	case "":
		fl.Layout = LayoutLatest
	case LayoutLatest, LayoutNova:
	default:
		fail("layout %q: say %s (openstack/latest only, the default) or %s (a folder per metadata version, as Nova writes a config drive; docs/drive-layouts.md)", fl.Layout, LayoutLatest, LayoutNova)
	}
	networkData := ""
	byPath := map[string]string{}
	for _, name := range slices.Sorted(maps.Keys(fl.Files)) {
		spec := fl.Files[name]
		key = "files." + name
		if other, dup := byPath[spec.Path]; dup && spec.Path != "" {
			fail("files.%s: path %s is already files.%s's; two files cannot land on one guest path: give each its own path", name, spec.Path, other)
		}
		byPath[spec.Path] = name
		kinds := 0
		for _, s := range []string{spec.Template, spec.Package, spec.NetworkData} {
			if s != "" {
				kinds++
			}
		}
		if kinds != 1 {
			fail("files.%s: set exactly one of template, package or network_data", name)
			continue
		}
		switch {
		case spec.NetworkData != "":
			if spec.Path != "" {
				fail("files.%s: network_data goes to openstack/latest/network_data.json; remove path", name)
			}
			if networkData != "" {
				fail("files.%s: network_data is already given by files.%s; a drive has one network_data.json", name, networkData)
			}
			networkData = name
		case !strings.HasPrefix(spec.Path, "/") || filepath.Clean(spec.Path) != spec.Path:
			fail("files.%s: path %q must be a clean absolute guest path such as /etc/hosts", name, spec.Path)
		}
		if spec.Package != "" {
			if _, ok := fl.Packages[spec.Package]; !ok {
				fail("files.%s: package %q is not listed under packages (have %s)", name, spec.Package, strings.Join(slices.Sorted(maps.Keys(fl.Packages)), ", "))
			}
		}
		for _, tmpl := range []string{spec.Template, spec.NetworkData} {
			if tmpl == "" {
				continue
			}
			if err := fl.checkTemplateName(tmpl); err != nil {
				fail("files.%s: %v", name, err)
			}
		}
	}
	for _, pkg := range slices.Sorted(maps.Keys(fl.Packages)) {
		key = "packages." + pkg
		if f := fl.Packages[pkg]; f == "" || filepath.Base(f) != f || f == "." || f == ".." {
			fail("packages.%s: %q must be a plain file name inside the package directory", pkg, f)
		}
	}
	return errors.Join(errs...)
}

// checkTemplateName refuses names that are not plain files of the flavor's
// folders: per-node overrides are looked up as nodes/<node>/<name>.
func (fl *Flavor) checkTemplateName(name string) error {
	if filepath.Base(name) != name || name == "." || name == ".." {
		return fmt.Errorf("template %q must be a file name in %s, without directories", name, fl.Dir)
	}
	var tried []string
	for _, dir := range fl.Dirs() {
		file := filepath.Join(dir, name)
		if st, err := os.Stat(file); err == nil {
			return inputfile.Regular(file, "template", st)
		}
		tried = append(tried, file)
	}
	if len(tried) > 1 {
		return fmt.Errorf("template %s does not exist, nor %s (templates_from: %s); create one or fix the name", tried[0], tried[1], fl.TemplatesFrom)
	}
	return fmt.Errorf("template %s does not exist; create it or fix the name", tried[0])
}

// flavorNames lists the flavors found in dir, for messages.
func flavorNames(dir string) []string {
	entries, _ := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		if _, err := os.Stat(filepath.Join(dir, e.Name(), FlavorFile)); err == nil {
			names = append(names, e.Name())
		}
	}
	if len(names) == 0 {
		return []string{"none"}
	}
	return names
}
