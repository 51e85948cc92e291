// Package configdrive writes OpenStack config-2 ISO9660 drives with
// github.com/kdomanski/iso9660 and reads them back with the same library.
package configdrive

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"

	"github.com/kdomanski/iso9660"

	"github.com/drivelab/drivelab/framework/render"
)

// Label is the volume label cloud-init's ds-identify looks for.
const Label = "config-2"

// writeBuffer batches the writer's sector-sized (2 KiB) writes into few syscalls.
const writeBuffer = 1 << 20

// Build writes d as a config-2 ISO at out. It refuses a drive Check rejects
// or whose source files are unreadable before writing anything, streams
// source files instead of loading them, and writes a temporary file renamed
// into place, so out is either the whole image or untouched.
func Build(ctx context.Context, d render.Drive, out string) (err error) {
	if err := Check(d); err != nil {
		return err
	}
	for _, c := range d.Content {
		if c.Data == nil && c.Source == "" {
			what := "neither data nor a source file"
			if c.Package != "" {
				what = fmt.Sprintf("no source file for package %s; render with a package directory", c.Package)
			}
			return fmt.Errorf("node %s: content %s (%s) has %s", d.Node.Name, c.ContentPath, c.GuestPath, what)
		}
	}
	files := d.Files()
	for i, f := range files {
		if f.Source == "" {
			continue
		}
		st, err := os.Stat(f.Source)
		switch {
		case err != nil:
			return fmt.Errorf("node %s: %s: source %w", d.Node.Name, f.Path, err)
		case !st.Mode().IsRegular():
			return fmt.Errorf("node %s: %s: source %s is not a regular file", d.Node.Name, f.Path, f.Source)
		case st.Size() > math.MaxUint32:
			return fmt.Errorf("node %s: %s: source %s is over 4 GiB, more than an ISO9660 file can hold", d.Node.Name, f.Path, f.Source)
		}
		// The writer refuses symlinks, and cache directories are full of them.
		if files[i].Source, err = filepath.EvalSymlinks(f.Source); err != nil {
			return fmt.Errorf("node %s: %s: source %w", d.Node.Name, f.Path, err)
		}
	}

	w, err := iso9660.NewWriter()
	if err != nil {
		return fmt.Errorf("node %s: staging: %w", d.Node.Name, err)
	}
	defer func() { err = errors.Join(err, w.Cleanup()) }()
	for _, f := range files {
		if err := ctx.Err(); err != nil {
			return err
		}
		if f.Source != "" {
			// Hard-linked into the staging directory when on the same
			// file system, copied in the kernel otherwise; never read here.
			err = w.AddLocalFile(f.Source, f.Path)
		} else {
			err = w.AddFile(bytes.NewReader(f.Data), f.Path)
		}
		if err != nil {
			return fmt.Errorf("node %s: staging %s: %w", d.Node.Name, f.Path, err)
		}
	}
	return writeAtomic(out, func(file io.Writer) error {
		return w.WriteTo(ctxWriter{ctx, file}, Label)
	})
}

// writeAtomic writes out through a buffered temporary file in the same
// directory and renames it into place; on any error the temporary is removed.
func writeAtomic(out string, write func(io.Writer) error) error {
	tmp, err := os.CreateTemp(filepath.Dir(out), "."+filepath.Base(out)+".*.tmp")
	if err != nil {
		return err
	}
	defer func() {
		if tmp != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	bw := bufio.NewWriterSize(tmp, writeBuffer)
	if err := write(bw); err != nil {
		return fmt.Errorf("writing %s: %w", out, err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("writing %s: %w", out, err)
	}
	// Drives carry root passwords and, booted by the harness, SSH host
	// private keys: only their owner reads them.
	if err := tmp.Chmod(0o600); err != nil {
		return err
	}
	// No fsync: drives are rebuilt from templates at will; the rename only
	// guarantees that no reader ever sees half an image.
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", out, err)
	}
	if err := os.Rename(tmp.Name(), out); err != nil {
		return err
	}
	tmp = nil
	return nil
}

// ctxWriter stops a long write when ctx is cancelled (Ctrl-C).
type ctxWriter struct {
	ctx context.Context
	w   io.Writer
}

func (c ctxWriter) Write(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.w.Write(p)
}
