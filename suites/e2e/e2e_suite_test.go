// Package e2e boots a topology from its config drives and verifies it from
// the test client. Run it with `make e2e`; flags are listed by `-e2e.help`.
package e2e_test

import (
	"context"
	"flag"
	"fmt"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/drivelab/drivelab/framework/config"
	"github.com/drivelab/drivelab/framework/harness"
	"github.com/drivelab/drivelab/framework/quarantine"
	"github.com/drivelab/drivelab/framework/shard"
	"github.com/drivelab/drivelab/scenarios"
)

var opts = struct {
	flavor, topology, templates, overlay, artifacts, image, packages, junit, shard, hosts string
	keep                                                                                  bool
	rerun                                                                                 int
}{}

// quarantined is the quarantine list (E2E_QUARANTINE), read and held to
// the registry before the tree is built.
var quarantined *quarantine.List

// thisShard is -e2e.shard, read before the spec tree is built.
var thisShard = shard.Whole

// env is the environment's E2E_* settings, read once before the tree is built.
var env config.Settings

func init() {
	flag.StringVar(&opts.flavor, "e2e.flavor", "debian12", "template flavor under fixtures/templates")
	flag.StringVar(&opts.topology, "e2e.topology", "", "topology file (default: the scenario's)")
	flag.StringVar(&opts.templates, "e2e.templates", "../../fixtures/templates", "templates directory")
	flag.StringVar(&opts.artifacts, "e2e.artifacts", "", "artifacts folder of this run (default artifacts/<run>)")
	flag.StringVar(&opts.image, "e2e.image", "", "boot this qcow2/raw cloud image from its disk instead of the built one")
	flag.StringVar(&opts.packages, "e2e.packages", "", "package directory for the flavor (default: the built bundles)")
	flag.StringVar(&opts.overlay, "e2e.overlay", "", "template overlay directory (default: the scenario's), e.g. a fixtures/selftest variant")
	flag.BoolVar(&opts.keep, "e2e.keep", false, "leave the lab running after the suite")
	flag.StringVar(&opts.junit, "e2e.junit", "", "write a JUnit report here, with the run's accelerator, host cores, guest vCPUs and deadline scale as properties; with -e2e.shard i/n (n>1) as PATH-shard-i-of-n")
	flag.StringVar(&opts.shard, "e2e.shard", "1/1", "run shard i of n (1-based): the scenarios the label filter selects are dealt round robin; every shard must get the same label filter")
	flag.StringVar(&opts.hosts, "e2e.hosts", "", "libvirt hosts to spread the scenarios over, comma-separated URIs such as qemu+ssh://root@host/system (default: E2E_HOSTS, else this machine)")
	flag.IntVar(&opts.rerun, "e2e.rerun", -1, "run a failed check again on the nodes it failed on, up to N times, after the first pass over all checks; one that passes so is reported flaky (default: E2E_RERUN)")
}

func TestE2E(t *testing.T) {
	// Refused here, before the tree is built and anything boots.
	s, err := shard.Parse(opts.shard)
	if err != nil {
		t.Fatalf("-e2e.shard: %v", err)
	}
	thisShard = s
	if env, err = config.FromEnv(); err != nil {
		t.Fatal(err)
	}
	switch {
	case opts.rerun > config.MaxRerun:
		t.Fatalf("-e2e.rerun=%d: at most %d", opts.rerun, config.MaxRerun)
	case opts.rerun >= 0:
		env.Rerun = opts.rerun
	}
	if quarantined, err = scenarios.LoadQuarantine(repoRoot, env.Quarantine); err != nil {
		t.Fatal(err)
	}
	// A filter naming no label selects nothing, and Ginkgo passes an empty run.
	if err := scenarios.CheckLabelFilter(GinkgoLabelFilter()); err != nil {
		t.Fatalf("-ginkgo.label-filter: %v", err)
	}
	// Where the scenarios run, decided before anything boots.
	if opts.hosts != "" {
		env.Hosts = opts.hosts
	}
	if hosts, err = harness.Hosts(env); err != nil {
		t.Fatalf("E2E_HOSTS: %v", err)
	}
	if len(hosts) > 1 {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		plan, err = placeScenarios(ctx)
		cancel()
		if err != nil {
			t.Fatalf("E2E_HOSTS: %v", err)
		}
		fmt.Printf("hosts: the scenarios are spread over %d hosts:\n%s", len(hosts), plan)
	}
	RegisterFailHandler(Fail)
	RunSpecs(t, "end to end")
}
