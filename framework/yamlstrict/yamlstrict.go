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
		return nil, located(path, err, hint, nil)
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case errors.Is(err, io.EOF):
	case err != nil:
		return nil, located(path, err, "a file holds one YAML document: remove the `---` line and what follows", nil)
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
	fields := Fields{}
	walk(fields, "", root)
	strict := yaml.NewDecoder(bytes.NewReader(data))
	strict.KnownFields(true)
	if err := strict.Decode(v); err != nil {
		return nil, located(path, err, hint, fields)
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

func walk(fields Fields, prefix string, n *yaml.Node) {
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
			fields[key] = n.Content[i+1]
			// The key's own line is where the field is written.
			if n.Content[i+1].Kind != yaml.ScalarNode {
				fields[key] = &yaml.Node{Kind: n.Content[i+1].Kind, Tag: n.Content[i+1].Tag, Line: n.Content[i].Line, Value: n.Content[i+1].Value}
			}
			walk(fields, key, n.Content[i+1])
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			key := join(strconv.Itoa(i))
			fields[key] = c
			walk(fields, key, c)
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
func located(path string, err error, hint string, fields Fields) error {
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
