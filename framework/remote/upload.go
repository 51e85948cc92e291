package remote

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"sync/atomic"
	"time"

	"github.com/drivelab/drivelab/framework/wait"
)

// UploadInput says what to copy where.
type UploadInput struct {
	// Local is the file to copy; Remote is where it goes on the host (an
	// absolute path; Remote+".part" holds it while it is incomplete).
	Local, Remote string
	// Host is the host's name (Host.Name), for messages.
	Host string
	// Connect returns a fresh connection to the host; it is called for the
	// first attempt and again after each broken one.
	Connect func(ctx context.Context) (Files, error)
	// Attempts bounds the connections tried in all (at least 1).
	Attempts int
	// Backoff is the pause before the second attempt; it doubles for each
	// later one, up to 8 × Backoff.
	Backoff time.Duration
	// Progress, when set, gets a line for each retry and resume.
	Progress func(format string, args ...any)
}

// UploadResult says what Upload did.
type UploadResult struct {
	// Skipped: Remote already had Local's size and sha256.
	Skipped bool
	// Attempts is how many connections were tried.
	Attempts int
	// ResumedAt lists the offsets a partial copy was resumed from.
	ResumedAt []int64
	// Bytes is how many bytes were sent, over all attempts.
	Bytes int64
	// Digest is Local's sha256, in hex.
	Digest string
}

// errFinal marks an upload error no retry can mend.
var errFinal = errors.New("final")

// Upload copies Local to Remote on a host, resumably and verified: bytes go
// to Remote+".part", resumed from its size after a broken connection; once
// it is whole its sha256 must be Local's (one mismatch removes it and
// starts over, a second is an error) before it is renamed to Remote, so
// Remote never exists half-written. If Remote already has Local's size and
// sha256 nothing is copied.
//
// Any error of Connect or of a Files method is retried with a fresh
// connection after Backoff, up to Attempts in all: on a dropped connection
// every method fails, not only Append. ctx ending stops it at once.
func Upload(ctx context.Context, in UploadInput) (UploadResult, error) {
	where := fmt.Sprintf("upload %s to %s:%s", in.Local, in.Host, in.Remote)
	if in.Connect == nil || in.Remote == "" || in.Attempts < 1 || (in.Attempts > 1 && in.Backoff <= 0) {
		return UploadResult{}, fmt.Errorf("%s: need Remote, Connect, Attempts ≥ 1 and a Backoff for retries", where)
	}
	progress := in.Progress
	if progress == nil {
		progress = func(string, ...any) {}
	}
	f, err := os.Open(in.Local)
	if err != nil {
		return UploadResult{}, fmt.Errorf("%s: %w", where, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return UploadResult{}, fmt.Errorf("%s: %w", where, err)
	}
	h := sha256.New()
	if _, err := io.Copy(h, io.NewSectionReader(f, 0, st.Size())); err != nil {
		return UploadResult{}, fmt.Errorf("%s: reading it: %w", where, err)
	}
	u := &upload{in: in, f: f, size: st.Size(), progress: progress, res: UploadResult{Digest: hex.EncodeToString(h.Sum(nil))}}

	var cause error
	backoff := in.Backoff
	for u.res.Attempts < in.Attempts {
		if u.res.Attempts > 0 {
			progress("upload %s: attempt %d of %d in %s after: %v", in.Local, u.res.Attempts+1, in.Attempts, backoff, cause)
			if err := pause(ctx, where, backoff); err != nil {
				return u.res, fmt.Errorf("%s: stopped (last error: %v): %w", where, cause, context.Cause(ctx))
			}
			backoff = min(2*backoff, 8*in.Backoff)
		}
		u.res.Attempts++
		files, err := in.Connect(ctx)
		if err == nil {
			err = u.attempt(ctx, files, cause)
		}
		switch {
		case err == nil:
			return u.res, nil
		case ctx.Err() != nil:
			return u.res, fmt.Errorf("%s: stopped: %w (last error: %v)", where, context.Cause(ctx), err)
		case errors.Is(err, errFinal):
			return u.res, fmt.Errorf("%s: %w", where, err)
		}
		cause = err
	}
	return u.res, fmt.Errorf("%s: gave up after %d attempts: %w; check that %s is reachable and has room for %d MiB, then run again (the copy resumes from %s.part)",
		where, u.res.Attempts, cause, in.Host, u.size>>20, in.Remote)
}

// pause waits d, or until ctx ends.
func pause(ctx context.Context, where string, d time.Duration) error {
	first := true
	return wait.Until(ctx, wait.Input{What: where + " to retry", Interval: d}, func(context.Context) (bool, string, error) {
		done := !first
		first = false
		return done, "backing off", nil
	})
}

type upload struct {
	in       UploadInput
	f        *os.File
	size     int64
	progress func(string, ...any)
	res      UploadResult
	// checked: Remote was looked at (and is not already the file).
	checked bool
	// restarted: a digest mismatch started the copy over once.
	restarted bool
}

// attempt does what is left over one connection; cause is why the last
// attempt broke, for the progress line.
func (u *upload) attempt(ctx context.Context, fs Files, cause error) error {
	in := u.in
	if !u.checked {
		size, ok, err := fs.Size(ctx, in.Remote)
		if err != nil {
			return err
		}
		if ok && size == u.size {
			sum, err := fs.Digest(ctx, in.Remote)
			if err != nil {
				return err
			}
			if sum == u.res.Digest {
				u.res.Skipped = true
				return nil
			}
		}
		if err := fs.MkdirAll(ctx, path.Dir(in.Remote)); err != nil {
			return err
		}
		u.checked = true
	}
	part := in.Remote + ".part"
	for {
		have, ok, err := fs.Size(ctx, part)
		if err != nil {
			return err
		}
		if !ok {
			have = 0
		}
		if have > u.size {
			u.progress("upload %s: %s is %d bytes, longer than the %d of %s: removing it", in.Local, part, have, u.size, in.Local)
			if err := fs.Remove(ctx, part); err != nil {
				return err
			}
			have = 0
		}
		if have < u.size {
			if have > 0 {
				u.res.ResumedAt = append(u.res.ResumedAt, have)
				u.progress("upload %s: resumed at %d MiB of %d MiB after: %v", in.Local, have>>20, u.size>>20, cause)
			}
			r := &countingReader{r: io.NewSectionReader(u.f, have, u.size-have)}
			err := fs.Append(ctx, part, r)
			u.res.Bytes += r.n.Load()
			if err != nil {
				return err
			}
		}
		sum, err := fs.Digest(ctx, part)
		if err != nil {
			return err
		}
		if sum != u.res.Digest {
			if u.restarted {
				return fmt.Errorf("%w: %s has sha256 %s, not %s's %s, a second time: something corrupts the copy (the disk, or a writer of its own); look at the host", errFinal, part, sum, in.Local, u.res.Digest)
			}
			u.restarted = true
			u.progress("upload %s: %s has sha256 %s, not %s: starting over", in.Local, part, sum, u.res.Digest)
			if err := fs.Remove(ctx, part); err != nil {
				return err
			}
			cause = errors.New("digest mismatch")
			continue
		}
		return fs.Rename(ctx, part, in.Remote)
	}
}

// countingReader counts what Append took; atomic since a transport may
// read from another goroutine than the one that reports.
type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}
