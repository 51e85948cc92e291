package main

import (
	"fmt"
	"runtime"

	"github.com/drivelab/drivelab/framework/config"
	"github.com/drivelab/drivelab/framework/topology"
	"github.com/drivelab/drivelab/framework/vm"
)

// thisHost measures what this machine gives guests, with the caps the boot
// applies (E2E_MAX_VCPUS, E2E_MAX_MEMORY_MIB) and the memory admission
// keeps for the host.
func thisHost() (topology.Host, error) {
	env, err := settings()
	if err != nil {
		return topology.Host{}, err
	}
	mem, err := vm.MemInfoMiB("MemTotal")
	if err != nil {
		return topology.Host{}, fmt.Errorf("host memory: %w", err)
	}
	return topology.Host{CPUs: runtime.NumCPU(), MemoryMiB: mem, ReservedMiB: config.HostMemoryReserveMiB, MaxVCPUs: env.Limits.MaxVCPUs, MaxMemoryMiB: env.Limits.MaxMemoryMiB}, nil
}

// loadTopology loads a topology and checks that this host can run it.
func loadTopology(path string) (*topology.Topology, error) {
	t, err := topology.Load(path)
	if err != nil {
		return nil, err
	}
	h, err := thisHost()
	if err != nil {
		return nil, err
	}
	return t, t.FitsHost(h)
}
