// Package golden lists what a flavor's drives carry, so that any template
// change shows up as a reviewable diff against a checked-in listing
// (fixtures/golden/<flavor>.txt). `make golden` refreshes the listings.
package golden

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf8"

	"github.com/drivelab/drivelab/framework/configdrive"
	"github.com/drivelab/drivelab/framework/render"
)

// maxText is the largest file whose text the listing shows; bigger or binary
// files are listed by size and digest only.
const maxText = 8 << 10

// Listing builds every drive of in (which should have Access nil and
// placeholder packages, so the result is stable), reads each back and lists
// node, path, size, sha256 and, for small text files, the text.
func Listing(ctx context.Context, in render.Input) ([]byte, error) {
	rendered, err := render.Render(ctx, in)
	if err != nil {
		return nil, err
	}
	drives := rendered.Drives
	dir, err := os.MkdirTemp("", "drivelab-golden-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)

	var b bytes.Buffer
	fmt.Fprintf(&b, "# The %s drives of %s, read back from the built images.\n", in.Flavor, filepath.Base(in.Topology.Path))
	fmt.Fprintf(&b, "# Placeholder packages, no harness access. After a deliberate template change: make golden\n")
	for _, d := range drives {
		// A listing is checked in and shown in reports: no private key in it.
		d, _ := render.Redacted(d)
		iso := filepath.Join(dir, configdrive.ImageName(d.Node.Name))
		if err := configdrive.Build(ctx, d, iso); err != nil {
			return nil, err
		}
		if err := list(&b, d.Node.Name, iso); err != nil {
			return nil, err
		}
	}
	return b.Bytes(), nil
}

func list(w io.Writer, node, iso string) error {
	im, err := configdrive.Read(iso)
	if err != nil {
		return err
	}
	defer im.Close()
	fmt.Fprintf(w, "\n## %s (label %s)\n", node, im.Label)
	// A file whose bytes an earlier file of the drive has (the nova
	// layout's copies in every version folder) names that file instead of
	// repeating its text.
	first := map[[sha256.Size]byte]string{}
	for _, name := range im.Names() {
		data, err := im.Files[name].Bytes()
		if err != nil {
			return fmt.Errorf("%s: %s: %w", iso, name, err)
		}
		sum := sha256.Sum256(data)
		fmt.Fprintf(w, "%s %s size=%d sha256=%x\n", node, name, len(data), sum)
		if len(data) > maxText || !utf8.Valid(data) || bytes.IndexByte(data, 0) >= 0 {
			continue
		}
		if earlier, ok := first[sum]; ok && len(data) > 0 {
			fmt.Fprintf(w, "    = %s\n", earlier)
			continue
		}
		first[sum] = name
		sc := bufio.NewScanner(bytes.NewReader(data))
		sc.Buffer(nil, maxText+1)
		for sc.Scan() {
			fmt.Fprintf(w, "    |%s\n", sc.Text())
		}
		if len(data) > 0 && data[len(data)-1] != '\n' {
			fmt.Fprintln(w, `    \ no newline at end of file`)
		}
	}
	return nil
}

// PlaceholderPackages writes every package file of the flavor into dir:
// the text "placeholder <file>" repeated up to size bytes (one line when
// size is 0). The bytes depend only on the name and size.
func PlaceholderPackages(dir string, fl *render.Flavor, size int64) error {
	for _, name := range fl.Packages {
		line := "placeholder " + name + "\n"
		data := []byte(line)
		if size > 0 {
			data = bytes.Repeat([]byte(line), int(size)/len(line)+1)[:size]
		}
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// Compare returns nil when got equals the listing in file, or an error
// holding a unified diff and the way to accept the change.
func Compare(file string, got []byte) error {
	want, err := os.ReadFile(file)
	if err != nil {
		return fmt.Errorf("%w; create it with `make golden`", err)
	}
	if bytes.Equal(want, got) {
		return nil
	}
	return fmt.Errorf("the drives differ from %s; if the change is intended, run `make golden` and commit the listing:\n%s",
		file, Diff(file, "rendered", string(want), string(got)))
}

// Update writes the listing to file (temp file + rename).
func Update(file string, got []byte) error {
	tmp := file + ".tmp"
	if err := os.WriteFile(tmp, got, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, file)
}

// Diff is a unified diff of two texts with three lines of context.
func Diff(nameA, nameB, a, b string) string {
	x, y := splitLines(a), splitLines(b)
	ops := diffLines(x, y)
	var out strings.Builder
	fmt.Fprintf(&out, "--- %s\n+++ %s\n", nameA, nameB)
	const context = 3
	for i := 0; i < len(ops); {
		if ops[i].kind == ' ' {
			i++
			continue
		}
		// A hunk: from context lines before this change to context lines
		// after the last change closer than 2*context to the next one.
		start := max(i-context, 0)
		end := i
		for j := i; j < len(ops); j++ {
			if ops[j].kind != ' ' {
				end = j
			} else if j-end > 2*context {
				break
			}
		}
		end = min(end+context+1, len(ops))
		aStart, bStart, aLen, bLen := ops[start].a, ops[start].b, 0, 0
		for _, op := range ops[start:end] {
			if op.kind != '+' {
				aLen++
			}
			if op.kind != '-' {
				bLen++
			}
		}
		fmt.Fprintf(&out, "@@ -%d,%d +%d,%d @@\n", aStart+1, aLen, bStart+1, bLen)
		for _, op := range ops[start:end] {
			fmt.Fprintf(&out, "%c%s\n", op.kind, op.text)
		}
		i = end
	}
	return out.String()
}

type diffOp struct {
	kind rune // ' ', '-', '+'
	text string
	a, b int // line index in a and b where the op applies
}

// diffLines is a longest-common-subsequence line diff; listings are a few
// hundred lines, so the quadratic table is small.
func diffLines(a, b []string) []diffOp {
	lcs := make([][]int, len(a)+1)
	for i := range lcs {
		lcs[i] = make([]int, len(b)+1)
	}
	for i := len(a) - 1; i >= 0; i-- {
		for j := len(b) - 1; j >= 0; j-- {
			if a[i] == b[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	var ops []diffOp
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case i < len(a) && j < len(b) && a[i] == b[j]:
			ops = append(ops, diffOp{' ', a[i], i, j})
			i++
			j++
		case i < len(a) && (j == len(b) || lcs[i+1][j] >= lcs[i][j+1]):
			ops = append(ops, diffOp{'-', a[i], i, j})
			i++
		default:
			ops = append(ops, diffOp{'+', b[j], i, j})
			j++
		}
	}
	return ops
}

func splitLines(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(strings.TrimSuffix(s, "\n"), "\n")
}
