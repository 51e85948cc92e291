package drivediff

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// MainRef is the branch a change is compared against by default.
const MainRef = "origin/main"

// DefaultBase is the revision a change in the repository at repo is
// compared against: its merge-base with origin/main when that exists,
// else HEAD (the work tree's uncommitted changes). what says which.
func DefaultBase(ctx context.Context, repo string) (rev, what string, err error) {
	if _, err := git(ctx, repo, "rev-parse", "--verify", "--quiet", MainRef+"^{commit}"); err == nil {
		rev, err := git(ctx, repo, "merge-base", "HEAD", MainRef)
		if err != nil {
			return "", "", fmt.Errorf("no merge-base of HEAD and %s (a shallow clone? fetch with fetch-depth: 0): %w", MainRef, err)
		}
		return rev, "merge-base with " + MainRef, nil
	}
	rev, err = git(ctx, repo, "rev-parse", "--verify", "HEAD^{commit}")
	if err != nil {
		return "", "", fmt.Errorf("%s has no %s and no HEAD commit to compare against; give --base: %w", repo, MainRef, err)
	}
	return rev, "HEAD; there is no " + MainRef, nil
}

// Extract writes the files of revision rev of the repository at repo
// under the paths keep names (folders or files, relative to the root)
// into dir, from `git archive`: the revision's own files, none of the work
// tree's. It stops when ctx ends; the caller removes dir.
func Extract(ctx context.Context, repo, rev, dir string, keep []string) (err error) {
	if _, err := git(ctx, repo, "rev-parse", "--verify", "--quiet", rev+"^{commit}"); err != nil {
		return fmt.Errorf("--base %q is not a commit of %s; give a branch, tag or commit", rev, repo)
	}
	cmd := exec.CommandContext(ctx, "git", "-C", repo, "archive", "--format=tar", rev)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("git archive: %w", err)
	}
	defer func() {
		// Read to the end, or git blocks writing what was not wanted.
		_, _ = io.Copy(io.Discard, out)
		if werr := cmd.Wait(); werr != nil && err == nil {
			err = fmt.Errorf("git archive %s: %w: %s", rev, werr, strings.TrimSpace(stderr.String()))
		}
	}()
	tr := tar.NewReader(out)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("git archive %s: %w", rev, err)
		}
		name := filepath.Clean(h.Name)
		if !wanted(name, keep) {
			continue
		}
		if !filepath.IsLocal(name) {
			return fmt.Errorf("git archive %s: entry %q leaves the folder", rev, h.Name)
		}
		dst := filepath.Join(dir, name)
		switch h.Typeflag {
		case tar.TypeDir:
			err = os.MkdirAll(dst, 0o755)
		case tar.TypeReg:
			err = writeFile(dst, tr, h.FileInfo().Mode().Perm())
		case tar.TypeSymlink:
			if err = os.MkdirAll(filepath.Dir(dst), 0o755); err == nil {
				err = os.Symlink(h.Linkname, dst)
			}
		}
		if err != nil {
			return err
		}
	}
}

// wanted says whether the archive's entry name lies under one of keep.
func wanted(name string, keep []string) bool {
	for _, k := range keep {
		k = filepath.Clean(k)
		if name == k || strings.HasPrefix(name, k+string(filepath.Separator)) || strings.HasPrefix(k, name+string(filepath.Separator)) {
			return true
		}
	}
	return false
}

func writeFile(path string, r io.Reader, perm os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm|0o200)
	if err != nil {
		return err
	}
	_, err = io.Copy(f, r)
	return errors.Join(err, f.Close())
}

// git runs git in repo and returns its output's first line.
func git(ctx context.Context, repo string, args ...string) (string, error) {
	out, err := exec.CommandContext(ctx, "git", append([]string{"-C", repo}, args...)...).Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) && len(ee.Stderr) > 0 {
			err = fmt.Errorf("%w: %s", err, strings.TrimSpace(string(ee.Stderr)))
		}
		return "", fmt.Errorf("git %s: %w", strings.Join(args, " "), err)
	}
	line, _, _ := strings.Cut(string(out), "\n")
	return strings.TrimSpace(line), nil
}

// ShortCommit is rev's commit id, abbreviated.
func ShortCommit(ctx context.Context, repo, rev string) (string, error) {
	return git(ctx, repo, "rev-parse", "--short", rev+"^{commit}")
}
