package scenarios

import (
	"fmt"
	"path/filepath"

	"github.com/drivelab/drivelab/framework/quarantine"
	"github.com/drivelab/drivelab/framework/topology"
)

// LoadQuarantine reads the quarantine list at path (E2E_QUARANTINE;
// relative to the repository root, root) and holds its names to the
// registry: every entry's scenario registered, its check one of the
// scenario's, its node one of the scenario's topology that check runs on.
func LoadQuarantine(root, path string) (*quarantine.List, error) {
	if !filepath.IsAbs(path) {
		path = filepath.Join(root, path)
	}
	l, err := quarantine.Load(path)
	if err != nil {
		return nil, err
	}
	known := map[string]quarantine.Names{}
	for _, s := range All() {
		topo, err := topology.Load(filepath.Join(root, s.Topology))
		if err != nil {
			return nil, fmt.Errorf("scenario %s: %w", s.Name, err)
		}
		n := quarantine.Names{}
		for _, c := range s.Checks {
			n[c.Name] = []string{}
			for _, node := range topo.Nodes {
				if c.Applies(node) {
					n[c.Name] = append(n[c.Name], node.Name)
				}
			}
		}
		known[s.Name] = n
	}
	return l, l.Check(known)
}
