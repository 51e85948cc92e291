package ci

import (
	"errors"
	"fmt"

	"github.com/drivelab/drivelab/framework/shard"
)

// CheckShards says when a job's matrix `shard` values are not a whole
// split, "1/n" .. "n/n" once each: a missing shard never runs its
// scenarios, a repeated one runs them twice, and a bad value only fails
// on the runner.
func (w Workflow) CheckShards() error {
	var errs []error
	for _, id := range w.jobIDs() {
		values, where := w.matrixValues(w.Jobs[id], "shard")
		if len(values) == 0 {
			continue
		}
		seen := map[int]bool{}
		total := 0
		for i, v := range values {
			s, err := shard.Parse(v)
			switch {
			case err != nil:
				errs = append(errs, fmt.Errorf("%s: job %s: matrix %w", where[i], id, err))
				continue
			case total == 0:
				total = s.Total
			case s.Total != total:
				errs = append(errs, fmt.Errorf("%s: job %s: matrix shard %q splits in %d, the others in %d; use one n throughout", where[i], id, v, s.Total, total))
				continue
			}
			if seen[s.Index] {
				errs = append(errs, fmt.Errorf("%s: job %s: matrix shard %q is listed twice; its scenarios would run twice", where[i], id, v))
			}
			seen[s.Index] = true
		}
		for i := 1; i <= total; i++ {
			if !seen[i] {
				errs = append(errs, fmt.Errorf("%s: job %s: matrix shard %d/%d is missing; its scenarios would never run", where[0], id, i, total))
			}
		}
	}
	return errors.Join(errs...)
}
