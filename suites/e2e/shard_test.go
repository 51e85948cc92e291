package e2e_test

import (
	"fmt"
	"strings"

	. "github.com/onsi/ginkgo/v2"

	"github.com/drivelab/drivelab/framework/harness"
	"github.com/drivelab/drivelab/framework/shard"
	"github.com/drivelab/drivelab/scenarios"
)

// scenarioLabels are a scenario container's labels, which the label filter
// sees.
func scenarioLabels(sc scenarios.Scenario) Labels {
	return Label(sc.SuiteLabels()...)
}

// shardOwners deals the scenarios the label filter selects over the shards
// (framework/shard), so that a filter such as `make e2e`'s `vm && !failover`
// does not leave a shard with only filtered-out scenarios; 0 for a scenario
// the filter drops. It says which shard runs what when there are several.
func shardOwners(all []scenarios.Scenario) []int {
	selected := make([]bool, len(all))
	for i, sc := range all {
		selected[i] = scenarioLabels(sc).MatchesLabelFilter(GinkgoLabelFilter())
	}
	owners := shard.Assign(selected, thisShard.Total)
	if thisShard.Total > 1 {
		var mine, others []string
		for i, sc := range all {
			switch o := owners[i]; {
			case o == thisShard.Index:
				mine = append(mine, sc.Name)
			case o != 0:
				others = append(others, fmt.Sprintf("%s (%d/%d)", sc.Name, o, thisShard.Total))
			}
		}
		fmt.Printf("shard %s runs: %s; the other shards run: %s\n",
			thisShard, orNone(mine), orNone(others))
	}
	return owners
}

// otherShard registers a scenario that another shard runs: its checks are
// reported as skipped, with the reason, and nothing boots.
func otherShard(sc scenarios.Scenario, owner int) {
	reason := fmt.Sprintf("shard %s: scenario %s runs in shard %d/%d", thisShard, sc.Name, owner, thisShard.Total)
	outcomes = append(outcomes, harness.Skipped(sc.Name, sc.Checks, reason))
	Describe(sc.Name, scenarioLabels(sc), func() {
		for _, check := range sc.Checks {
			It(check.Name, func() { Skip(reason) })
		}
	})
}

func orNone(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}
