// Package inputfile reads the files a user hands the harness (topology,
// flavor, templates) with a size limit, and only when they are regular
// files: /dev/zero would fill memory, a FIFO would block forever.
package inputfile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"
)

// Limits on what the harness reads and renders. Each is far above what a
// real input needs (the reference topology is 2 KiB, the largest template
// 6 KiB) and far below what would strain the host.
const (
	MaxTopology = 1 << 20  // a topology file
	MaxFlavor   = 1 << 20  // a flavor.yaml
	MaxTemplate = 1 << 20  // one template of a flavor or an overlay
	MaxRendered = 16 << 20 // one file rendered from a template
	// MaxRenderedTotal bounds all files of all drives rendered at once, and
	// with it rendering's memory whatever the number of nodes.
	MaxRenderedTotal = 64 << 20
)

// Read returns the content of path, what the file is for messages
// ("topology"), if it is a regular file (a symlink to one is followed) of
// at most max bytes.
func Read(path, what string, max int64) (_ []byte, err error) {
	defer func() {
		// "topology x.yaml: permission denied", not "open x.yaml: ...".
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = fmt.Errorf("%s %s: %w", what, path, pe.Err)
		}
	}()
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if err := Regular(path, what, st); err != nil {
		return nil, err
	}
	if st.Size() > max {
		return nil, TooBig(path, what, max)
	}
	// O_NONBLOCK: a FIFO swapped in since the Stat must not block the open.
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if st, err := f.Stat(); err != nil {
		return nil, err
	} else if err := Regular(path, what, st); err != nil {
		return nil, err
	}
	data, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > max {
		return nil, TooBig(path, what, max)
	}
	return data, nil
}

// Regular refuses anything but a regular file, naming what path is instead.
func Regular(path, what string, st fs.FileInfo) error {
	m := st.Mode()
	if m.IsRegular() {
		return nil
	}
	kind := "not a regular file"
	switch {
	case m.IsDir():
		kind = "a folder"
	case m&fs.ModeNamedPipe != 0:
		kind = "a named pipe (FIFO), which would block reading"
	case m&fs.ModeCharDevice != 0, m&fs.ModeDevice != 0:
		kind = "a device, which may never end"
	case m&fs.ModeSocket != 0:
		kind = "a socket"
	}
	return fmt.Errorf("%s %s is %s, not a regular file; give the %s as a file", what, path, kind, what)
}

// TooBig is the error for an input over its limit.
func TooBig(path, what string, max int64) error {
	return fmt.Errorf("%s %s is over %s, more than any %s needs; give the right file, or cut it down", what, path, Size(max), what)
}

// Size is n bytes in the largest whole unit: 16 MiB, 512 KiB, 100 bytes.
func Size(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}
