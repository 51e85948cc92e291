package vm

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	libvirt "github.com/digitalocean/go-libvirt"

	"github.com/drivelab/drivelab/framework/config"
	"github.com/drivelab/drivelab/framework/topology"
)

// Limits cap every node's size on small runners (config.Settings.Limits).
type Limits config.Limits

// TCGVCPUs is the vCPUs every guest gets under TCG unless E2E_MAX_VCPUS
// says otherwise: more vCPU threads than host cores preempt each other's
// lock holders, and a guest's boot is mostly one thread of work anyway
// (hack/bench-e2e measured it; see README, "Speed").
const TCGVCPUs = 1

// forAccel applies the TCG default cap where E2E_MAX_VCPUS is not set.
func (l Limits) forAccel(a config.Accel) Limits {
	if a == config.AccelTCG && !l.VCPUsSet {
		l.MaxVCPUs = TCGVCPUs
	}
	return l
}

// why says where a vCPU cap comes from.
func (l Limits) why(a config.Accel) string {
	if l.VCPUsSet {
		return "E2E_MAX_VCPUS"
	}
	return fmt.Sprintf("TCG: at most %d per guest; E2E_MAX_VCPUS=0 lifts the cap", TCGVCPUs)
}

// size is a node's vCPUs and memory after the caps.
func (l Limits) size(n topology.Node) (vcpus, memMiB int) {
	vcpus, memMiB = n.VCPUs, n.MemoryMiB
	if l.MaxVCPUs > 0 {
		vcpus = min(vcpus, l.MaxVCPUs)
	}
	if l.MaxMemoryMiB > 0 {
		memMiB = min(memMiB, l.MaxMemoryMiB)
	}
	return vcpus, memMiB
}

// Footprint is what the topology's guests take of the host under accel,
// after the caps BootAll applies; admission counts it before anything boots.
func Footprint(t *topology.Topology, accel config.Accel, caps config.Limits) (vcpus, memoryMiB int) {
	limits := Limits(caps).forAccel(accel)
	for _, n := range t.Nodes {
		v, m := limits.size(n)
		vcpus, memoryMiB = vcpus+v, memoryMiB+m
	}
	return vcpus, memoryMiB
}

// checkInput finds every problem of the input that needs no libvirt.
func checkInput(in BootInput, limits Limits) error {
	var errs []error
	fail := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	switch {
	case in.Conn == nil:
		fail("BootInput.Conn is nil: connect with vm.Connect first")
	case in.Topology == nil:
		fail("BootInput.Topology is nil: load one with topology.Load")
	case in.Dialer == nil:
		fail("BootInput.Dialer is nil: pass the lab's dialer (lab.Config.Dialer)")
	}
	if err := checkRunID(in.RunID); err != nil {
		errs = append(errs, err)
	}
	iv := in.Intervals
	if iv.Stall <= 0 || iv.CloudInit <= 0 || iv.SSH <= 0 || iv.Teardown <= 0 || iv.Poll <= 0 {
		fail("BootInput.Intervals: Stall, CloudInit, SSH, Teardown and Poll must be set (config.DefaultIntervals)")
	}
	if in.ArtifactsDir == "" {
		fail("BootInput.ArtifactsDir is empty: consoles need a folder")
	}
	if in.PoolDir == "" {
		fail("BootInput.PoolDir is empty: pass config.Paths.PoolDir()")
	}
	im := in.Image
	if in.Host != nil {
		// On the host, uploaded and verified by size and digest.
		im = Image{Cmdline: im.Cmdline}
	} else if err := regularFile(im.Disk); err != nil {
		fail("base image: %v: build it with `e2e image build` (or pass an existing disk image)", err)
	}
	if im.Kernel != "" {
		for what, p := range map[string]string{"kernel": im.Kernel, "initrd": im.Initrd} {
			if err := regularFile(p); err != nil {
				fail("%s: %v: rebuild the image with `e2e image build`", what, err)
			}
		}
		if strings.TrimSpace(im.Cmdline) == "" {
			fail("image has a kernel but no cmdline: direct kernel boot needs root=/dev/vda console=ttyS0")
		}
	}
	if in.Topology == nil {
		return errors.Join(errs...)
	}
	total := 0
	for _, n := range in.Topology.Nodes {
		if err := regularFile(in.Drives[n.Name]); err != nil {
			fail("node %s: config drive: %v: render the drives first (`e2e drives`)", n.Name, err)
		}
		_, mem := limits.size(n)
		total += mem
	}
	for name := range in.Drives {
		if _, ok := in.Topology.Node(name); !ok {
			fail("config drive given for %q, which is not a node of %s", name, in.Topology.Path)
		}
	}
	avail, err := memAvailableMiB()
	if in.Host != nil {
		avail, err = in.Host.MemAvailableMiB, nil
	}
	if err != nil {
		errs = append(errs, err)
	} else if total > avail {
		fail("the topology asks %d MiB of guest memory but the host has %d MiB available (MemAvailable): lower memory_mib in %s or cap every node with E2E_MAX_MEMORY_MIB",
			total, avail, in.Topology.Path)
	}
	return errors.Join(errs...)
}

// checkLibvirt finds every problem that libvirt or the lab can tell before
// anything is created: a dead connection, a missing bridge, and names that
// are already taken.
func checkLibvirt(ctx context.Context, in BootInput) error {
	if _, err := in.Conn.ConnectGetLibVersion(); err != nil {
		return fmt.Errorf("libvirtd does not answer: %w; check it with `virsh version` or restart the lab (`e2e lab up`)", err)
	}
	var errs []error
	for _, nw := range in.Topology.Networks {
		if err := in.Dialer.CheckBridge(ctx, in.bridgeOf(nw.Name)); err != nil {
			what := "network " + nw.Name + "'s bridge"
			if !in.Topology.SeveralNetworks() {
				what = "network.bridge"
			}
			errs = append(errs, fmt.Errorf("%s: %s: %w", in.Topology.Path, what, err))
		}
	}
	pool, poolErr := in.Conn.StoragePoolLookupByName(PoolName)
	for _, n := range in.Topology.Nodes {
		name := DomainName(in.RunID, n.Name)
		if dom, err := in.Conn.DomainLookupByName(name); err == nil {
			if o, err := domainOwner(in.Conn, dom); err == nil {
				errs = append(errs, fmt.Errorf("node %s: domain %s is left from run %s of the harness: remove it with `e2e down`", n.Name, name, o.Run))
			} else {
				errs = append(errs, fmt.Errorf("node %s: domain %s exists and is not the harness's: choose another run id, or remove it yourself (virsh destroy %s; virsh undefine %s)", n.Name, name, name, name))
			}
		} else if !isNotFound(err) {
			errs = append(errs, fmt.Errorf("node %s: looking up domain %s: %w", n.Name, name, err))
		}
		if poolErr != nil {
			continue
		}
		for _, v := range volumes(in.RunID, n.Name) {
			if _, err := in.Conn.StorageVolLookupByName(pool, v); err == nil {
				errs = append(errs, fmt.Errorf("node %s: volume %s already exists in pool %s: remove what runs left with `e2e down`", n.Name, v, PoolName))
			}
		}
	}
	return errors.Join(errs...)
}

// domainOwner reads the harness's mark; a domain without it is not ours.
func domainOwner(conn Libvirt, dom libvirt.Domain) (Owner, error) {
	md, err := conn.DomainGetMetadata(dom, int32(libvirt.DomainMetadataElement), libvirt.OptString{MetadataURI}, libvirt.DomainAffectCurrent)
	if err != nil {
		return Owner{}, err
	}
	return ownerOf(md)
}

func regularFile(path string) error {
	if path == "" {
		return errors.New("no path given")
	}
	st, err := os.Stat(path)
	if err != nil {
		return err
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file", path)
	}
	return nil
}

// memAvailableMiB reads MemAvailable: what the host can give guests
// without swapping.
func memAvailableMiB() (int, error) { return MemInfoMiB("MemAvailable") }

// MemInfoMiB reads one field of /proc/meminfo (MemTotal, MemAvailable) in MiB.
func MemInfoMiB(field string) (int, error) {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 2 && fields[0] == field+":" {
			kib, err := strconv.Atoi(fields[1])
			return kib / 1024, err
		}
	}
	return 0, fmt.Errorf("/proc/meminfo has no %s", field)
}

// absDir makes the artifacts folder and returns its absolute path, which
// libvirt needs for console logs.
func absDir(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return "", fmt.Errorf("artifacts folder: %w", err)
	}
	return abs, nil
}
