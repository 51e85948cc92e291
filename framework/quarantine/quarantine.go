// Package quarantine is the list of known failures a run lets through until
// a date (fixtures/quarantine.yaml, or the file E2E_QUARANTINE names): a
// quarantined check still runs and its failure is still reported, but it
// fails the run only once its entry has expired. The list names scenarios,
// checks and nodes as text; the suites and `e2e check`, which know the
// registry, hold it to the names there (Check).
package quarantine

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/drivelab/drivelab/framework/inputfile"
	"github.com/drivelab/drivelab/framework/verify"
	"github.com/drivelab/drivelab/framework/yamlstrict"
)

// maxList bounds the file's size: a list of a few dozen entries is 4 KiB.
const maxList = 1 << 20

// DateLayout is how an entry's expiry date is written.
const DateLayout = "2006-01-02"

// hint ends every error about the file's form.
const hint = "each entry under quarantine: has scenario, check, optional node, reason and expires: YYYY-MM-DD; see docs/ci.md"

// List is a quarantine file's entries.
type List struct {
	// Path is the file the entries came from.
	Path    string
	Entries []Entry
}

// Entry is one quarantined check: of a scenario, on every node it runs on
// or on one.
type Entry struct {
	Scenario string `yaml:"scenario"`
	Check    string `yaml:"check"`
	// Node limits the entry to one node; "": every node.
	Node   string `yaml:"node"`
	Reason string `yaml:"reason"`
	// Expires is the last day (UTC) the failure is let through, YYYY-MM-DD.
	Expires string `yaml:"expires"`
	// Where is the entry's file:line, for messages.
	Where string `yaml:"-"`
}

// file is the YAML document.
type file struct {
	Quarantine []Entry `yaml:"quarantine"`
}

// Load reads path strictly (framework/yamlstrict): one mapping with the
// list under quarantine:, every entry complete, its date a real date, no
// entry twice. Every problem is named with file:line.
func Load(path string) (*List, error) {
	data, err := inputfile.Read(path, "quarantine list", maxList)
	if err != nil {
		return nil, fmt.Errorf("%w (E2E_QUARANTINE names another file)", err)
	}
	var f file
	fields, err := yamlstrict.Decode(path, data, &f, hint)
	if err != nil {
		return nil, err
	}
	if _, ok := fields["quarantine"]; !ok {
		return nil, fmt.Errorf("%s: no quarantine: list; write `quarantine: []` for none (%s)", path, hint)
	}
	l := &List{Path: path}
	var errs []error
	seen := map[[3]string]string{}
	for i, e := range f.Quarantine {
		key := fmt.Sprintf("quarantine.%d", i)
		e.Where = fields.At(path, key)
		for _, req := range []struct{ name, value string }{{"scenario", e.Scenario}, {"check", e.Check}, {"reason", e.Reason}, {"expires", e.Expires}} {
			if strings.TrimSpace(req.value) == "" {
				errs = append(errs, fmt.Errorf("%s: entry %d has no %s; give it one (%s)", e.Where, i+1, req.name, hint))
			}
		}
		if e.Expires != "" {
			if _, err := time.Parse(DateLayout, e.Expires); err != nil {
				errs = append(errs, fmt.Errorf("%s: expires %q is not a date; write it as YYYY-MM-DD, the last day the failure is let through", fields.At(path, key+".expires"), e.Expires))
			}
		}
		id := [3]string{e.Scenario, e.Check, e.Node}
		if first, dup := seen[id]; dup {
			errs = append(errs, fmt.Errorf("%s: %s is quarantined already at %s; keep one entry", e.Where, e.name(), first))
		}
		seen[id] = e.Where
		l.Entries = append(l.Entries, e)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return l, nil
}

// name is "check CHECK of scenario SCENARIO[ on NODE]".
func (e Entry) name() string {
	s := fmt.Sprintf("check %s of scenario %s", e.Check, e.Scenario)
	if e.Node != "" {
		s += " on " + e.Node
	}
	return s
}

// Expired reports whether now is past the entry's last day (UTC).
func (e Entry) Expired(now time.Time) bool {
	last, err := time.Parse(DateLayout, e.Expires)
	if err != nil {
		return true // Load refuses such a date; an entry made otherwise holds nothing
	}
	return !now.UTC().Before(last.AddDate(0, 0, 1))
}

// Names are what a scenario offers the list: each of its checks by name,
// with the nodes of its topology the check runs on (nil: not known, a
// node is not checked).
type Names map[string][]string

// Check refuses entries naming a scenario, check or node that known (by
// scenario name) does not have: an entry for a renamed check would quietly
// quarantine nothing.
func (l *List) Check(known map[string]Names) error {
	var scenarios []string
	for name := range known {
		scenarios = append(scenarios, name)
	}
	slices.Sort(scenarios)
	var errs []error
	for _, e := range l.Entries {
		checks, ok := known[e.Scenario]
		nodes, hasCheck := checks[e.Check]
		switch {
		case !ok:
			errs = append(errs, fmt.Errorf("%s: scenario %q is not registered; the scenarios are %s: fix or remove the entry", e.Where, e.Scenario, strings.Join(scenarios, ", ")))
		case !hasCheck:
			errs = append(errs, fmt.Errorf("%s: scenario %s has no check %q; its checks are %s: fix or remove the entry", e.Where, e.Scenario, e.Check, strings.Join(slices.Sorted(maps.Keys(checks)), ", ")))
		case e.Node != "" && nodes != nil && !slices.Contains(nodes, e.Node):
			errs = append(errs, fmt.Errorf("%s: check %s of scenario %s does not run on node %q, only on %s: fix the node, or leave it out for every node", e.Where, e.Check, e.Scenario, e.Node, strings.Join(nodes, ", ")))
		}
	}
	return errors.Join(errs...)
}

// For is the entries of one scenario; nil for a nil list.
func (l *List) For(scenario string) []Entry {
	if l == nil {
		return nil
	}
	var out []Entry
	for _, e := range l.Entries {
		if e.Scenario == scenario {
			out = append(out, e)
		}
	}
	return out
}

// Apply marks each result that an entry of entries (one scenario's, For)
// names with that entry as of now: a node's own entry before one for every
// node. Results of other checks are returned as they are.
func Apply(entries []Entry, results []verify.Result, now time.Time) []verify.Result {
	out := slices.Clone(results)
	for i, r := range out {
		var match *Entry
		for j, e := range entries {
			if e.Check != r.Check || (e.Node != "" && e.Node != r.Node) {
				continue
			}
			if match == nil || (match.Node == "" && e.Node != "") {
				match = &entries[j]
			}
		}
		if match != nil {
			out[i].Quarantine = &verify.Quarantine{Reason: match.Reason, Until: match.Expires, Expired: match.Expired(now), Where: match.Where}
		}
	}
	return out
}
