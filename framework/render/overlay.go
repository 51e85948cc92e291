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
	"github.com/drivelab/drivelab/framework/topology"
)

// OverlayNotes are the files an overlay may hold beside its templates: a
// self-test variant's description (framework/selftest) and a README. Hidden
// files and folders (an editor's .name.swp, .git) are passed over too.
var OverlayNotes = []string{"variant.yaml", "README.md"}

// checkOverlay refuses an overlay that would not apply: a folder that is
// missing or not a folder, and any file in it that overrides nothing (no
// template of that name is rendered, or nodes/<node>/ names no node). A
// harness that silently ignored it would test the unchanged templates and
// report green for a change it never applied.
func checkOverlay(t *topology.Topology, fl *Flavor, dir string) error {
	if dir == "" {
		return nil
	}
	const layout = "an overlay holds <template> for every node and nodes/<node>/<template> for one"
	st, err := os.Stat(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("overlay %s does not exist; give the folder of templates that override flavor %s's (%s), or no overlay", dir, fl.Name, layout)
	case err != nil:
		return fmt.Errorf("overlay %s: %w", dir, err)
	case !st.IsDir():
		return fmt.Errorf("overlay %s is a file, not a folder; give the folder that holds it (%s)", dir, layout)
	}
	// What each node renders, by template name.
	used := map[string]map[string]bool{}
	all := map[string]bool{}
	for _, n := range t.Nodes {
		role := t.Roles[n.Role]
		names := map[string]bool{role.UserData: true, MetaDataTemplate: true}
		for _, f := range role.Files {
			spec := fl.Files[f]
			for _, tmpl := range []string{spec.Template, spec.NetworkData} {
				if tmpl != "" {
					names[tmpl] = true
				}
			}
		}
		used[n.Name] = names
		maps.Copy(all, names)
	}
	var errs []error
	fail := func(path, format string, args ...any) {
		errs = append(errs, fmt.Errorf("overlay %s: %s", path, fmt.Sprintf(format, args...)))
	}
	// A walk of its own, not filepath.WalkDir: symlinked folders (the
	// overlay itself, nodes/<node>) are followed, as rendering reads them.
	// The layout is three levels deep, so a link cycle ends there.
	var walk func(path string, parts []string)
	walk = func(path string, parts []string) {
		info, err := os.Stat(path)
		if err != nil {
			fail(path, "%v; %s", err, layout)
			return
		}
		name := filepath.Base(path)
		if hidden := len(parts) > 0 && strings.HasPrefix(name, "."); hidden && info.IsDir() {
			return
		} else if hidden && !all[name] {
			return
		}
		if info.IsDir() {
			switch {
			case len(parts) == 0, len(parts) == 1 && parts[0] == "nodes":
			case len(parts) == 2 && parts[0] == "nodes":
				if _, ok := t.Node(parts[1]); !ok {
					fail(path, "no node %q in %s (nodes: %s); rename the folder or remove it", parts[1], t.Path, strings.Join(t.NodeNames(), ", "))
					return
				}
			default:
				fail(path, "is a folder that overrides nothing; %s", layout)
				return
			}
			entries, err := os.ReadDir(path)
			if err != nil {
				fail(path, "%v", err)
			}
			for _, e := range entries {
				walk(filepath.Join(path, e.Name()), append(slices.Clip(parts), e.Name()))
			}
			return
		}
		if err := inputfile.Regular(path, "overlay file", info); err != nil {
			errs = append(errs, err)
			return
		}
		switch {
		case len(parts) == 1 && slices.Contains(OverlayNotes, parts[0]):
		case len(parts) == 1 && !all[parts[0]]:
			fail(path, "overrides no template: no node of %s renders %q with flavor %s (templates: %s); rename or remove it", t.Path, parts[0], fl.Name, strings.Join(slices.Sorted(maps.Keys(all)), ", "))
		case len(parts) == 3 && !used[parts[1]][parts[2]]:
			fail(path, "overrides no template: node %s renders no %q with flavor %s (it renders %s); rename or remove it", parts[1], parts[2], fl.Name, strings.Join(slices.Sorted(maps.Keys(used[parts[1]])), ", "))
		case len(parts) == 2:
			fail(path, "is a file where a node's folder belongs; %s", layout)
		}
	}
	walk(dir, nil)
	return errors.Join(errs...)
}
