package render

import (
	"reflect"
	"regexp"
	"slices"
	"testing"
)

// The hint a template's unknown field gets names exactly what Data offers.
func TestDataHintNamesWhatTemplatesSee(t *testing.T) {
	named := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?:^|\s)\.([A-Z]\w*)`).FindAllStringSubmatch(dataHint, -1) {
		named[m[1]] = true
	}
	var offered []string
	data := reflect.TypeFor[Data]()
	for f := range data.Fields() {
		if f.IsExported() {
			offered = append(offered, f.Name)
		}
	}
	for m := range data.Methods() {
		offered = append(offered, m.Name)
	}
	for _, name := range offered {
		if !named[name] {
			t.Errorf("the hint %q does not name Data's %s", dataHint, name)
		}
		delete(named, name)
	}
	for name := range named {
		t.Errorf("the hint %q names .%s, which Data does not have (it has %v)", dataHint, name, slices.Sorted(slices.Values(offered)))
	}
}
