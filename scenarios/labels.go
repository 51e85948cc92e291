package scenarios

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// The suites' Ginkgo labels, for label filters (`make e2e E2E_LABELS=...`).
const (
	// LabelDrive is suites/configdrive: drives built and read back, no VM (`make test`).
	LabelDrive = "drive"
	// LabelVM and LabelSlow are on every scenario: it boots VMs.
	LabelVM   = "vm"
	LabelSlow = "slow"
	// LabelDisruptive is on every scenario whose check is Disruptive.
	LabelDisruptive = "disruptive"
	// LabelFailover is the failover scenario (`make failover`).
	LabelFailover = "failover"
	// LabelCloudConfig is the cloudconfig scenario (`make cloudconfig`).
	LabelCloudConfig = "cloudconfig"
	// LabelTwoTier is the twotier scenario (`make twotier`).
	LabelTwoTier = "twotier"
)

// Labels is the closed set of labels: a scenario may carry no other, and
// suites/e2e refuses a label filter naming another (Ginkgo would run
// nothing and pass). A new label is one entry here and one in README.md.
var Labels = []string{LabelDrive, LabelVM, LabelSlow, LabelDisruptive, LabelFailover, LabelCloudConfig, LabelTwoTier}

// automatic are the labels the suites give; a scenario does not list them.
var automatic = []string{LabelDrive, LabelVM, LabelSlow, LabelDisruptive}

var labelRegexpRE = regexp.MustCompile(`/[^/]*/`)

// CheckLabelFilter refuses a Ginkgo label filter that names a label outside
// Labels and the scenarios' names (each scenario's label too, SuiteLabels):
// Ginkgo would select nothing and report success.
func CheckLabelFilter(filter string) error {
	known := slices.Clone(Labels)
	for _, s := range All() {
		known = append(known, s.Name)
	}
	var unknown []string
	// A /regular expression/ matches labels rather than naming one.
	named := labelRegexpRE.ReplaceAllString(filter, " ")
	for _, tok := range strings.FieldsFunc(named, func(r rune) bool { return strings.ContainsRune("&|!(),", r) }) {
		// Ginkgo compares labels case-insensitively.
		if tok = strings.ToLower(strings.TrimSpace(tok)); tok != "" && !slices.Contains(known, tok) {
			unknown = append(unknown, tok)
		}
	}
	if unknown != nil {
		return fmt.Errorf("label filter %q names %s, not among the labels (%s) nor the scenarios (%s)", filter, strings.Join(unknown, ", "), strings.Join(Labels, ", "), strings.Join(known[len(Labels):], ", "))
	}
	return nil
}
