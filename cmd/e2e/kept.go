package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/drivelab/drivelab/framework/config"
	"github.com/drivelab/drivelab/framework/harness"
	"github.com/drivelab/drivelab/framework/topology"
	"github.com/drivelab/drivelab/scenarios"
)

// The developer loop's commands (up, check, ssh, status, down) share a kept
// lab: harness.Record in the state directory says what it runs.

// keptLab is the current kept lab, its topology and a libvirt connection.
type keptLab struct {
	env config.Settings
	rec *harness.Record
	// topo is the topology file as it is now; rec.Effective gives the uuids in use.
	topo *topology.Topology
	// up is the kept lab as its record describes it, once connected.
	up harness.UpInput
}

// loadKept finds the kept lab and loads its topology; connect reaches
// its libvirt. Commands check their arguments in between, so bad input
// fails before anything is contacted.
func loadKept() (*keptLab, error) {
	env, err := settings()
	if err != nil {
		return nil, err
	}
	k := &keptLab{env: env}
	if k.rec, err = harness.LoadCurrent(env.Paths); err != nil {
		return nil, err
	}
	if k.topo, err = topology.Load(k.rec.Topology); err != nil {
		return nil, fmt.Errorf("kept lab %s: %w", k.rec.Run, err)
	}
	return k, nil
}

// connect opens the kept lab as its record describes it (harness.Open);
// close disconnects.
func (k *keptLab) connect(ctx context.Context) error {
	r := k.rec
	var err error
	k.up, err = harness.Open(ctx, harness.OpenInput{Settings: k.env, Run: harness.UpInput{
		RunID: r.Run, Topology: k.topo, TemplatesDir: r.Templates, Flavor: r.Flavor, Overlay: r.Overlay,
		PackageDir: r.PackageDir,
	}})
	if err == nil {
		k.up.Libvirt().Image = r.Image
	}
	return err
}

func (k *keptLab) close() { k.up.Close() }

// input is the kept lab's KeepInput, reporting to progress.
func (k *keptLab) input(progress io.Writer) harness.KeepInput {
	up := k.up
	up.Progress = progress
	return harness.KeepInput{Scenario: k.rec.Scenario, UpInput: up}
}

// scenarioNamed finds a registered scenario.
func scenarioNamed(name string) (scenarios.Scenario, error) {
	var names []string
	for _, s := range scenarios.All() {
		if s.Name == name {
			return s, nil
		}
		names = append(names, s.Name)
	}
	slices.Sort(names)
	return scenarios.Scenario{}, fmt.Errorf("scenario %q is unknown; have %s", name, strings.Join(names, ", "))
}
