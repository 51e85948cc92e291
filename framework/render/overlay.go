package render

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

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
	var walk fs.WalkDirFunc
	walk = func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			fail(path, "%v", err)
			return nil
		}
		rel, _ := filepath.Rel(dir, path)
		parts := strings.Split(filepath.ToSlash(rel), "/")
		// WalkDir does not follow a symlink to a folder (nodes/web01 ->
		// elsewhere); the renderer does, so lint walks it too.
		isDir, linked := d.IsDir(), false
		if d.Type()&fs.ModeSymlink != 0 {
			if st, err := os.Stat(path); err == nil && st.IsDir() {
				isDir, linked = true, true
			}
		}
		if hidden := rel != "." && strings.HasPrefix(d.Name(), "."); hidden && isDir {
			return fs.SkipDir
		} else if hidden && !all[d.Name()] {
			return nil
		}
		if linked && len(parts) <= 2 {
			if parts[0] == "nodes" && len(parts) == 2 {
				if _, ok := t.Node(parts[1]); !ok {
					fail(path, "no node %q in %s (nodes: %s); rename the folder or remove it", parts[1], t.Path, strings.Join(t.NodeNames(), ", "))
					return nil
				}
			}
			// A trailing separator makes WalkDir start at the folder the link names.
			return filepath.WalkDir(path+string(filepath.Separator), walk)
		}
		if isDir {
			switch {
			case rel == ".", rel == "nodes":
			case len(parts) == 2 && parts[0] == "nodes":
				if _, ok := t.Node(parts[1]); !ok {
					fail(path, "no node %q in %s (nodes: %s); rename the folder or remove it", parts[1], t.Path, strings.Join(t.NodeNames(), ", "))
					return fs.SkipDir
				}
			default:
				fail(path, "is a folder that overrides nothing; %s", layout)
				return fs.SkipDir
			}
			return nil
		}
		if info, err := os.Stat(path); err != nil || !info.Mode().IsRegular() {
			fail(path, "is not a regular file; %s", layout)
			return nil
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
		return nil
	}
	// The overlay itself may be a symlink to a folder (--overlay link).
	err = filepath.WalkDir(filepath.Clean(dir)+string(filepath.Separator), walk)
	return errors.Join(append(errs, err)...)
}
