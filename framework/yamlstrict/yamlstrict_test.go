package yamlstrict_test

import (
	"strings"
	"testing"

	"github.com/drivelab/drivelab/framework/yamlstrict"
)

type doc struct {
	Name  string `yaml:"name"`
	Items []struct {
		Size int `yaml:"size"`
	} `yaml:"items"`
}

func TestDecodeNamesTheLine(t *testing.T) {
	cases := map[string]struct{ data, want string }{
		"empty":           {"", "f.yaml: the file is empty (no YAML document)"},
		"comments":        {"# nothing\n", "f.yaml: the file is empty"},
		"null":            {"---\n", "f.yaml: the document is empty (null)"},
		"scalar":          {"hello\n", "f.yaml:1: the document is the value \"hello\", not a mapping"},
		"second document": {"name: a\n---\nname: b\n", "f.yaml:2: a second YAML document starts here"},
		"unknown field":   {"name: a\nitems:\n  - {size: 1, colour: red}\n", "f.yaml:3: field colour not found"},
		"repeated field":  {"name: a\nname: b\n", `f.yaml:2: mapping key "name" already defined`},
		// The parser counts this one from 0; the message must not.
		"unclosed flow": {"name: a\nitems:\n  - {size: 1\n", "f.yaml:3: did not find expected ',' or '}'"},
		// The scanner counts from 1.
		"tab indent": {"name: a\nitems:\n\t- x\n", "f.yaml:3: found character that cannot start any token"},
		// The decoder's "cannot unmarshal !!str" names no field.
		"quoted number": {"name: a\nitems:\n  - {size: \"2\"}\n", `f.yaml:3: items.0.size: the value "2" is text, but size takes a whole number; write size: 2, without quotes or tag`},
		"float":         {"name: a\nitems:\n  - size: .inf\n", `f.yaml:3: items.0.size: the value ".inf" is a number that is not whole, but size takes a whole number`},
		"list for text": {"name: [a]\n", "f.yaml:1: name: the value is a list, but name takes text"},
	}
	for name, c := range cases {
		var d doc
		_, err := yamlstrict.Decode("f.yaml", []byte(c.data), &d, "see the docs")
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error = %v, want %q", name, err, c.want)
		}
	}
	fields, err := yamlstrict.Decode("f.yaml", []byte("name: a\nitems:\n  - size: 1\n  - size: 2\n"), &doc{}, "")
	if err != nil {
		t.Fatal(err)
	}
	if got := fields.At("f.yaml", "items.1.size"); got != "f.yaml:4" {
		t.Errorf("items.1.size at %s", got)
	}
	if got := fields.At("f.yaml", "items.1.colour"); got != "f.yaml:4" {
		t.Errorf("a missing field is not placed at its parent: %s", got)
	}
}
