// Package yamlstrict reads the harness's own YAML files (topology, flavor)
// strictly: exactly one document, a mapping, no unknown or repeated field,
// and every error as "file:line: message (hint)" rather than the decoder's
// bare `EOF` or "yaml: line N".
package yamlstrict

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Fields maps a dotted field path ("network.gateway", "nodes.2.mac",
// "roles.web.files") to its YAML node, for lines and tags in messages.
type Fields map[string]*yaml.Node

// Line is the line of key, or of its closest parent that has one; 0 when none.
func (f Fields) Line(key string) int {
	for key != "" {
		if n, ok := f[key]; ok {
			return n.Line
		}
		i := strings.LastIndexByte(key, '.')
		if i < 0 {
			break
		}
		key = key[:i]
	}
	return 0
}

// At is "path:line" for key, or path alone when the line is unknown.
func (f Fields) At(path, key string) string {
	if l := f.Line(key); l > 0 {
		return fmt.Sprintf("%s:%d", path, l)
	}
	return path
}

// Decode fills v from data, the content of path, and returns where each
// field was. hint ends every decoding error: it says where the fields are
// documented.
func Decode(path string, data []byte, v any, hint string) (Fields, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	switch err := dec.Decode(&doc); {
	case errors.Is(err, io.EOF):
		return nil, fmt.Errorf("%s: the file is empty (no YAML document); %s", path, hint)
	case err != nil:
		return nil, located(path, err, hint, mismatch{})
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case errors.Is(err, io.EOF):
	case err != nil:
		return nil, located(path, err, "a file holds one YAML document: remove the `---` line and what follows", mismatch{})
	default:
		return nil, fmt.Errorf("%s:%d: a second YAML document starts here; the file is read as one document, so merge it into the first or remove the `---` line and what follows", path, separator(data, next))
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	if root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
		return nil, fmt.Errorf("%s: the document is empty (null), not a mapping of fields; %s", path, hint)
	}
	if root.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%s:%d: the document is %s, not a mapping of fields; %s", path, root.Line, kind(root), hint)
	}
	fields, values := Fields{}, Fields{}
	walk(fields, values, "", root)
	strict := yaml.NewDecoder(bytes.NewReader(data))
	strict.KnownFields(true)
	if err := strict.Decode(v); err != nil {
		return nil, located(path, err, hint, mismatch{fields, values, reflect.TypeOf(v)})
	}
	return fields, nil
}

// separator is the line of the `---` that starts the document next.
func separator(data []byte, next yaml.Node) int {
	end := next.Line
	if len(next.Content) > 0 {
		end = next.Content[0].Line
	}
	line := end
	for i, l := range strings.Split(string(data), "\n") {
		if i+1 > end {
			break
		}
		if strings.HasPrefix(l, "---") {
			line = i + 1
		}
	}
	return line
}

func kind(n *yaml.Node) string {
	switch {
	case n.Kind == yaml.SequenceNode:
		return "a list"
	case n.Kind == yaml.ScalarNode && n.Tag == "!!null":
		return "empty (null)"
	case n.Kind == yaml.ScalarNode:
		return fmt.Sprintf("the value %q", n.Value)
	}
	return "not a mapping"
}

// walk records every field's node in fields (a mapping or list at its key's
// line) and in values (at the value's own line, as the decoder reports it).
func walk(fields, values Fields, prefix string, n *yaml.Node) {
	join := func(k string) string {
		if prefix == "" {
			return k
		}
		return prefix + "." + k
	}
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			key := join(n.Content[i].Value)
			fields[key], values[key] = n.Content[i+1], n.Content[i+1]
			// The key's own line is where the field is written.
			if n.Content[i+1].Kind != yaml.ScalarNode {
				fields[key] = &yaml.Node{Kind: n.Content[i+1].Kind, Tag: n.Content[i+1].Tag, Line: n.Content[i].Line, Value: n.Content[i+1].Value}
			}
			walk(fields, values, key, n.Content[i+1])
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			key := join(strconv.Itoa(i))
			fields[key], values[key] = c, c
			walk(fields, values, key, c)
		}
	}
}

// lineRE finds the decoder's "line N: " (after an optional "yaml: ").
var lineRE = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)

// parserProblems are the go.yaml.in/yaml/v3 parser's own errors, which it
// reports with a 0-based line (decode.go, fail); scanner errors are 1-based.
var parserProblems = []string{
	"did not find expected ',' or ']'", "did not find expected ',' or '}'",
	"did not find expected '-' indicator", "did not find expected <document start>",
	"did not find expected key", "did not find expected node content",
	"found duplicate %", "found incompatible YAML document", "found undefined tag handle",
}

// ErrorLine splits one decoder message into its 1-based line (0 when it
// names none) and the message without "yaml: line N: ".
func ErrorLine(msg string) (int, string) {
	msg = strings.TrimPrefix(msg, "yaml: ")
	g := lineRE.FindStringSubmatch(msg)
	if g == nil {
		return 0, msg
	}
	line, _ := strconv.Atoi(g[1])
	for _, p := range parserProblems {
		if strings.HasPrefix(g[2], p) {
			line++
			break
		}
	}
	return line, g[2]
}

// quotedRE finds the value a text unmarshaler quotes: ParseAddr("x").
var quotedRE = regexp.MustCompile(`\("([^"]*)"\)`)

// located rewrites the decoder's errors as "path:N: message (hint)", one
// per line. A value's own parser (an IP address) names no line: the field
// holding that value gives it.
func located(path string, err error, hint string, at mismatch) error {
	fields := at.fields
	var msgs []string
	var te *yaml.TypeError
	if errors.As(err, &te) {
		msgs = te.Errors
	} else {
		msgs = []string{err.Error()}
	}
	var errs []error
	for _, m := range msgs {
		line, m := ErrorLine(m)
		if u := unmarshalRE.FindStringSubmatch(m); u != nil && line > 0 {
			m = at.describe(line, u[1], u[2], u[3])
		} else if u := mappingForTextRE.FindStringSubmatch(m); u != nil && line > 0 {
			m = at.describe(line, "map", "", u[1])
		}
		if q := quotedRE.FindStringSubmatch(m); line == 0 && q != nil {
			for _, key := range slices.Sorted(maps.Keys(fields)) {
				if n := fields[key]; n.Kind == yaml.ScalarNode && n.Value == q[1] {
					line, m = n.Line, key+": "+m
					break
				}
			}
		}
		if line > 0 {
			errs = append(errs, fmt.Errorf("%s:%d: %s (%s)", path, line, m, hint))
		} else {
			errs = append(errs, fmt.Errorf("%s: %s (%s)", path, m, hint))
		}
	}
	return errors.Join(errs...)
}

// unmarshalRE splits the decoder's "cannot unmarshal !!str `2` into int"
// (the value is cut to "`abcdefg...`" when long; lists and mappings have none).
var unmarshalRE = regexp.MustCompile("^cannot unmarshal !!(\\w+)(?: `(.*)`)? into (.+)$")

// mappingForTextRE is the decoder's complaint about a mapping given where a
// value parsed from text (an address) belongs.
var mappingForTextRE = regexp.MustCompile(`^field \S+ not found in type (netip\.\w+)$`)

// mismatch is what describe needs to find a field from the decoder's line
// and types: the fields as walk records them and the type decoded into.
type mismatch struct {
	fields, values Fields
	into           reflect.Type
}

// describe says which field on line holds a value of the wrong type, what it
// is and what the field takes, instead of the decoder's "cannot unmarshal
// !!float". The field is the one on that line whose value has the tag and
// whose Go type is goType (several share a line in flow style). A quoted
// whole number for a number field gets the unquoted spelling as its fix.
func (at mismatch) describe(line int, tag, value, goType string) string {
	key := ""
	for _, k := range slices.Sorted(maps.Keys(at.values)) {
		n := at.values[k]
		if n.Line != line || n.Tag != "!!"+tag {
			continue
		}
		if cut, ok := strings.CutSuffix(value, "..."); n.Kind == yaml.ScalarNode && n.Value != value && !(ok && strings.HasPrefix(n.Value, cut)) {
			continue
		}
		if t := typeAt(at.into, k); t != nil && t.String() == goType {
			key = k
			break
		}
	}
	fields := at.fields
	what := map[string]string{"str": "text", "int": "a whole number", "float": "a number that is not whole", "bool": "true or false",
		"seq": "a list", "map": "a mapping", "null": "empty", "binary": "binary data", "timestamp": "a date"}[tag]
	if what == "" {
		what = "!!" + tag
	}
	want := "a " + goType
	switch {
	case goType == "string":
		want = "text"
	case goType == "bool":
		want = "true or false"
	case strings.HasPrefix(goType, "[]"):
		want = "a list"
	case goType == "netip.Prefix":
		want = "a network prefix such as 192.168.100.0/24"
	case goType == "netip.Addr":
		want = "an IP address such as 192.168.100.1"
	case strings.HasPrefix(goType, "map["), strings.Contains(goType, "."):
		want = "a mapping"
	case strings.HasPrefix(goType, "int"), strings.HasPrefix(goType, "uint"):
		want = "a whole number"
	}
	shown := "the value"
	if value != "" {
		shown += " " + strconv.Quote(value)
	}
	if key == "" {
		return fmt.Sprintf("%s here is %s where %s belongs", shown, what, want)
	}
	leaf := key[strings.LastIndexByte(key, '.')+1:]
	msg := fmt.Sprintf("%s: %s is %s, but %s takes %s", key, shown, what, leaf, want)
	if _, err := strconv.Atoi(fields[key].Value); err == nil && tag == "str" && want == "a whole number" {
		msg += fmt.Sprintf("; write %s: %s, without quotes or tag", leaf, fields[key].Value)
	}
	return msg
}

// typeAt is the Go type that key ("nodes.0.ip") decodes into within t, as
// yaml tags name the fields; nil when t has no such field.
func typeAt(t reflect.Type, key string) reflect.Type {
	for _, part := range strings.Split(key, ".") {
		for t != nil && t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		if t == nil {
			return nil
		}
		switch t.Kind() {
		case reflect.Struct:
			var next reflect.Type
			for i := range t.NumField() {
				f := t.Field(i)
				name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
				if name == "" {
					name = strings.ToLower(f.Name)
				}
				if name == part && f.IsExported() {
					next = f.Type
				}
			}
			t = next
		case reflect.Slice, reflect.Array:
			if _, err := strconv.Atoi(part); err != nil {
				return nil
			}
			t = t.Elem()
		case reflect.Map:
			t = t.Elem()
		default:
			return nil
		}
	}
	return t
}
