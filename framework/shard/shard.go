// Package shard splits a suite's scenarios across CI runners or processes:
// shard "i/n" (1-based) runs the i-th of n parts, and every scenario runs in
// exactly one part. It knows no test framework; suites/e2e applies it.
package shard

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// Shard is part Index of Total, both 1-based.
type Shard struct{ Index, Total int }

// Whole is the unsharded run.
var Whole = Shard{Index: 1, Total: 1}

var form = regexp.MustCompile(`^([0-9]+)/([0-9]+)$`)

// Parse reads "i/n" with 1 <= i <= n.
func Parse(s string) (Shard, error) {
	m := form.FindStringSubmatch(s)
	if m == nil {
		return Shard{}, fmt.Errorf("shard %q: want i/n, two whole numbers with 1 <= i <= n, e.g. 1/2", s)
	}
	i, errI := strconv.Atoi(m[1])
	n, errN := strconv.Atoi(m[2])
	switch {
	case errI != nil || errN != nil:
		return Shard{}, fmt.Errorf("shard %q: number out of range; want a small i/n such as 1/2", s)
	case n < 1:
		return Shard{}, fmt.Errorf("shard %q: the count n must be at least 1; use 1/1 for the whole suite", s)
	case i < 1 || i > n:
		return Shard{}, fmt.Errorf("shard %q: the index is 1-based and at most n; use one of 1/%d .. %d/%d", s, n, n, n)
	}
	return Shard{Index: i, Total: n}, nil
}

func (s Shard) String() string { return fmt.Sprintf("%d/%d", s.Index, s.Total) }

// Assign deals the selected items over total shards, round robin in their
// order: the k-th selected item goes to shard k mod total + 1. It returns,
// per item, the index of the shard that runs it, or 0 for an item not
// selected. Round robin rather than a hash of the name: each scenario boots
// its own lab, so scenarios cost about the same and equal counts balance
// best (shard sizes differ by at most one; a hash puts both of two scenarios
// in one shard half the time). The assignment only has to agree between the
// shards of one CI run, which all build the same commit.
func Assign(selected []bool, total int) []int {
	owners := make([]int, len(selected))
	k := 0
	for i, sel := range selected {
		if sel {
			owners[i] = k%total + 1
			k++
		}
	}
	return owners
}

// Path is where this shard writes a report meant for path: unchanged for
// the whole suite, else "-shard-i-of-n" before the extension
// (junit.xml -> junit-shard-1-of-2.xml), so that CI can collect and merge
// the shards' files side by side.
func (s Shard) Path(path string) string {
	if s.Total <= 1 {
		return path
	}
	ext := filepath.Ext(path)
	return fmt.Sprintf("%s-shard-%d-of-%d%s", strings.TrimSuffix(path, ext), s.Index, s.Total, ext)
}
