package scenarios

import (
	"testing"

	"github.com/drivelab/drivelab/framework/shard"
)

// Every registered scenario runs in exactly one shard of `-e2e.shard i/n`,
// for n = 1..4, as suites/e2e deals them when the label filter selects all.
func TestEveryScenarioRunsInExactlyOneShard(t *testing.T) {
	all := All()
	if len(all) < 2 {
		t.Fatalf("%d scenarios registered; the partition needs at least two to mean anything", len(all))
	}
	selected := make([]bool, len(all))
	for i := range selected {
		selected[i] = true
	}
	for n := 1; n <= 4; n++ {
		runs := make([]int, len(all))
		for idx := 1; idx <= n; idx++ {
			// Each shard is its own process and deals the scenarios itself.
			owners := shard.Assign(selected, n)
			for i := range all {
				if owners[i] == idx {
					runs[i]++
				}
			}
		}
		for i, sc := range all {
			if runs[i] != 1 {
				t.Errorf("n=%d: scenario %s runs in %d shards, want exactly one", n, sc.Name, runs[i])
			}
		}
	}
}
