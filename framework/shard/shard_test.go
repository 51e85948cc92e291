package shard

import (
	"strings"
	"testing"
)

func TestParseAcceptsOneBasedIndexUpToCount(t *testing.T) {
	for in, want := range map[string]Shard{"1/1": Whole, "1/2": {1, 2}, "2/2": {2, 2}, "3/4": {3, 4}} {
		got, err := Parse(in)
		if err != nil || got != want {
			t.Errorf("Parse(%q) = %v, %v; want %v", in, got, err, want)
		}
		if got.String() != in {
			t.Errorf("%v.String() = %q, want %q", got, got.String(), in)
		}
	}
}

func TestParseRefusesBadValuesSayingWhy(t *testing.T) {
	for in, want := range map[string]string{
		"0/2":                    "1-based",
		"3/2":                    "use one of 1/2 .. 2/2",
		"1/0":                    "at least 1",
		"a/b":                    "want i/n",
		"":                       "want i/n",
		"1":                      "want i/n",
		"1/2/3":                  "want i/n",
		"-1/2":                   "want i/n",
		"+1/2":                   "want i/n",
		" 1/2":                   "want i/n",
		"1/99999999999999999999": "out of range",
		"99999999999999999999/1": "out of range",
	} {
		_, err := Parse(in)
		if err == nil {
			t.Errorf("Parse(%q) accepted a bad shard", in)
			continue
		}
		if !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "shard "+`"`+in+`"`) {
			t.Errorf("Parse(%q) = %v; want the value quoted and %q", in, err, want)
		}
	}
}

// Every selected item runs in exactly one shard, shard sizes differ by at
// most one, and unselected items in none.
func TestAssignPartitionsTheSelectedItems(t *testing.T) {
	for n := 1; n <= 4; n++ {
		for items := 0; items <= 9; items++ {
			for _, every := range []int{1, 2, 3} { // select all, every 2nd, every 3rd
				selected := make([]bool, items)
				for i := range selected {
					selected[i] = i%every == 0
				}
				owners := Assign(selected, n)
				runs := make([]int, n+1)
				for i, o := range owners {
					switch {
					case !selected[i] && o != 0:
						t.Errorf("n=%d items=%d every=%d: item %d is not selected but runs in shard %d", n, items, every, i, o)
					case selected[i] && (o < 1 || o > n):
						t.Errorf("n=%d items=%d every=%d: item %d has shard %d, want 1..%d", n, items, every, i, o, n)
					case selected[i]:
						runs[o]++
					}
				}
				lo, hi := items, 0
				for _, c := range runs[1:] {
					lo, hi = min(lo, c), max(hi, c)
				}
				if hi-lo > 1 {
					t.Errorf("n=%d items=%d every=%d: shard sizes %v differ by more than one", n, items, every, runs[1:])
				}
			}
		}
	}
}

func TestPathNamesTheShardBeforeTheExtension(t *testing.T) {
	for _, c := range []struct {
		s        Shard
		in, want string
	}{
		{Whole, "/a/junit.xml", "/a/junit.xml"},
		{Shard{1, 2}, "/a/junit.xml", "/a/junit-shard-1-of-2.xml"},
		{Shard{2, 2}, "artifacts/run.1/junit.xml", "artifacts/run.1/junit-shard-2-of-2.xml"},
		{Shard{3, 4}, "run.d/junit", "run.d/junit-shard-3-of-4"},
	} {
		if got := c.s.Path(c.in); got != c.want {
			t.Errorf("%v.Path(%q) = %q, want %q", c.s, c.in, got, c.want)
		}
	}
}
