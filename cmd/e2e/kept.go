package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/digitalocean/go-libvirt"

	"github.com/drivelab/drivelab/framework/config"
	"github.com/drivelab/drivelab/framework/harness"
	"github.com/drivelab/drivelab/framework/lab"
	"github.com/drivelab/drivelab/framework/topology"
	"github.com/drivelab/drivelab/framework/vm"
	"github.com/drivelab/drivelab/scenarios"
)

// The developer loop's commands (up, check, ssh, status, down) share a kept
// lab: harness.Record in the state directory says what it runs.

// libvirtFor connects to the lab of topo and picks the intervals for its
// accelerator. The caller disconnects.
func libvirtFor(ctx context.Context, env config.Settings, topo *topology.Topology) (lab.Config, *libvirt.Libvirt, config.Intervals, error) {
	lc, err := lab.DefaultConfig(env, topo)
	if err != nil {
		return lc, nil, config.Intervals{}, err
	}
	conn, err := vm.Connect(ctx, lc.LibvirtSocket)
	if err != nil {
		return lc, nil, config.Intervals{}, err
	}
	accel, err := vm.Accel(conn, env.Accel)
	if err == nil {
		return lc, conn, env.Intervals(accel), nil
	}
	conn.Disconnect()
	return lc, nil, config.Intervals{}, err
}

// keptLab is the current kept lab, its topology and a libvirt connection.
type keptLab struct {
	env config.Settings
	rec *harness.Record
	// topo is the topology file as it is now; rec.Effective gives the uuids in use.
	topo *topology.Topology
	lab  lab.Config
	conn *libvirt.Libvirt
	iv   config.Intervals
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

// connect connects to libvirt; close disconnects.
func (k *keptLab) connect(ctx context.Context) error {
	var err error
	k.lab, k.conn, k.iv, err = libvirtFor(ctx, k.env, k.topo)
	return err
}

func (k *keptLab) close() { k.conn.Disconnect() }

// input is the kept lab as its record describes it.
func (k *keptLab) input(progress io.Writer) harness.KeepInput {
	r := k.rec
	return harness.KeepInput{Scenario: r.Scenario, UpInput: harness.UpInput{
		RunID: r.Run, Topology: k.topo, TemplatesDir: r.Templates, Flavor: r.Flavor, Overlay: r.Overlay,
		Conn: k.conn, Image: r.Image, PackageDir: r.PackageDir, Lab: k.lab, Paths: k.env.Paths,
		Intervals: k.iv, Limits: k.env.Limits, Accel: k.env.Accel, Progress: progress,
	}}
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
