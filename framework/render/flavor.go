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
	// Files maps each logical file name of the topology's roles to how it
	// reaches the guest.
	Files map[string]FileSpec `yaml:"files"`
	// Packages maps a logical package name to its file name in the package directory.
	Packages map[string]string `yaml:"packages"`
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
	fields, err := yamlstrict.Decode(file, data, fl, "fields: files.<name>.{path,template,package,network_data}, packages; see fixtures/templates/debian12/flavor.yaml")
	if err != nil {
		return nil, err
	}
	if err := fl.validate(file, fields); err != nil {
		return nil, err
	}
	return fl, nil
}

func (fl *Flavor) validate(file string, fields yamlstrict.Fields) error {
	var errs []error
	key := ""
	fail := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", fields.At(file, key), fmt.Sprintf(format, args...)))
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

// checkTemplateName refuses names that are not plain files of the flavor
// directory: per-node overrides are looked up as nodes/<node>/<name>.
func (fl *Flavor) checkTemplateName(name string) error {
	if filepath.Base(name) != name || name == "." || name == ".." {
		return fmt.Errorf("template %q must be a file name in %s, without directories", name, fl.Dir)
	}
	file := filepath.Join(fl.Dir, name)
	st, err := os.Stat(file)
	if err != nil {
		return fmt.Errorf("template %s does not exist; create it or fix the name", file)
	}
	return inputfile.Regular(file, "template", st)
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
