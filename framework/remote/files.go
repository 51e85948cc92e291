package remote

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Files is what Upload needs of a host. *Client implements it with
// commands every host has (test, stat, cat, sha256sum, mv, rm, mkdir).
type Files interface {
	// Size is path's size, and whether it exists.
	Size(ctx context.Context, path string) (size int64, exists bool, err error)
	// Append writes r's bytes at the end of path, creating it. On an error
	// what reached the host stays written.
	Append(ctx context.Context, path string, r io.Reader) error
	// Digest is path's sha256, in lower-case hex.
	Digest(ctx context.Context, path string) (string, error)
	// Rename moves from to to, replacing to (atomically: same file system).
	Rename(ctx context.Context, from, to string) error
	// Remove removes path; a missing path is no error.
	Remove(ctx context.Context, path string) error
	// MkdirAll makes dir and its parents.
	MkdirAll(ctx context.Context, dir string) error
}

var _ Files = (*Client)(nil)

// Size runs test and stat on the host.
func (c *Client) Size(ctx context.Context, path string) (int64, bool, error) {
	out, err := c.Script(ctx, `if [ -e "$1" ]; then stat -L -c %s -- "$1"; else echo missing; fi`, path)
	if err != nil {
		return 0, false, err
	}
	s := strings.TrimSpace(string(out))
	if s == "missing" {
		return 0, false, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, false, fmt.Errorf("%s: size of %s: stat said %q", c.host.Name, path, s)
	}
	return n, true, nil
}

// Append runs cat >> path with r as stdin.
func (c *Client) Append(ctx context.Context, path string, r io.Reader) error {
	_, err := c.scriptInput(ctx, r, `cat >> "$1"`, path)
	return err
}

// Digest runs sha256sum.
func (c *Client) Digest(ctx context.Context, path string) (string, error) {
	out, err := c.Run(ctx, "sha256sum", "--", path)
	if err != nil {
		return "", err
	}
	sum, _, _ := strings.Cut(string(out), " ")
	if len(sum) != 64 {
		return "", fmt.Errorf("%s: sha256 of %s: sha256sum said %q", c.host.Name, path, strings.TrimSpace(string(out)))
	}
	return sum, nil
}

// Rename runs mv -f.
func (c *Client) Rename(ctx context.Context, from, to string) error {
	_, err := c.Run(ctx, "mv", "-f", "--", from, to)
	return err
}

// Remove runs rm -f.
func (c *Client) Remove(ctx context.Context, path string) error {
	_, err := c.Run(ctx, "rm", "-f", "--", path)
	return err
}

// MkdirAll runs mkdir -p.
func (c *Client) MkdirAll(ctx context.Context, dir string) error {
	_, err := c.Run(ctx, "mkdir", "-p", "--", dir)
	return err
}
