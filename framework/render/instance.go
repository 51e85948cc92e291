package render

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/drivelab/drivelab/framework/topology"
)

// Reinstanced is r with some nodes booting as new instances: each node in
// uuids (node name -> new uuid) carries its new uuid wherever its drive
// carried the old one (meta_data's uuid, which cloud-init takes as the
// instance-id, and any template that prints .Node.UUID). Nothing is
// rendered again, so the drives a kept lab boots are the ones lint passed
// and the diff compared. A template that transforms the uuid (a slice of
// it, upper case) keeps the old form; meta_data must carry it as is. The
// nova layout's random_seed and ec2 ids, derived from the uuid, are derived
// again. r is not changed.
func (r *Result) Reinstanced(uuids map[string]string) (*Result, error) {
	if r == nil || r.Topology == nil {
		return nil, errors.New("render: Reinstanced needs a Result of Render")
	}
	topo := *r.Topology
	topo.Nodes = slices.Clone(r.Topology.Nodes)
	out := &Result{Topology: &topo, Drives: slices.Clone(r.Drives)}
	var errs []error
	for _, name := range slices.Sorted(maps.Keys(uuids)) {
		i := slices.IndexFunc(topo.Nodes, func(n topology.Node) bool { return n.Name == name })
		j := slices.IndexFunc(out.Drives, func(d Drive) bool { return d.Node.Name == name })
		if i < 0 || j < 0 {
			errs = append(errs, fmt.Errorf("render: node %s has no drive in this result (nodes: %s)", name, strings.Join(topo.NodeNames(), ", ")))
			continue
		}
		old, uuid := topo.Nodes[i].UUID, uuids[name]
		if !bytes.Contains(out.Drives[j].MetaData, []byte(`"`+old+`"`)) {
			errs = append(errs, fmt.Errorf("render: node %s: %s does not carry its uuid %s as written, so it cannot take a new one without rendering again", name, MetaDataPath, old))
			continue
		}
		topo.Nodes[i].UUID = uuid
		out.Drives[j] = out.Drives[j].withUUID(old, uuid)
		out.Drives[j].Node = topo.Nodes[i]
	}
	if err := errors.Join(append(errs, topo.Validate())...); err != nil {
		return nil, err
	}
	return out, nil
}

// withUUID is a copy of d with every occurrence of uuid old replaced by new,
// and of what the nova layout derives from it. A uuid is 36 characters of
// its own (topology.Validate makes them unique) and the derived values are
// digests of it, so no other text of the drive holds one by chance.
func (d Drive) withUUID(old, new string) Drive {
	pairs := []string{old, new}
	if d.Layout == LayoutNova {
		for i, from := range novaFromUUID(old) {
			pairs = append(pairs, from, novaFromUUID(new)[i])
		}
	}
	r := strings.NewReplacer(pairs...)
	swap := func(b []byte) []byte {
		if b == nil {
			return nil
		}
		return []byte(r.Replace(string(b)))
	}
	d.MetaData, d.UserData, d.VendorData, d.NetworkData = swap(d.MetaData), swap(d.UserData), swap(d.VendorData), swap(d.NetworkData)
	d.Content = slices.Clone(d.Content)
	for i := range d.Content {
		d.Content[i].Data = swap(d.Content[i].Data)
	}
	d.LayoutFiles = slices.Clone(d.LayoutFiles)
	for i := range d.LayoutFiles {
		d.LayoutFiles[i].Data = swap(d.LayoutFiles[i].Data)
	}
	return d
}
