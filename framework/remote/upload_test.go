package remote

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeHost is a host's files in memory, with faults to inject. Each
// Connect returns a fakeFiles; a cut breaks it for good, as a dropped SSH
// connection does.
type fakeHost struct {
	mu    sync.Mutex
	files map[string][]byte
	// connectFails is how many Connects fail before one succeeds.
	connectFails int
	// cuts are, for the next Appends in turn, how many bytes get through
	// before the connection breaks (the rest of Append's input is lost).
	cuts []int64
	// corrupt flips a byte of the first Append that completes a file.
	corrupt bool
	// corruptAlways flips one on every such Append.
	corruptAlways bool
	// remote is Upload's Remote; goodSum is the local file's sha256.
	remote, goodSum string
	// matched is set when a Digest of Remote.part returned goodSum;
	// early lists every time Remote appeared before that.
	matched  bool
	early    []string
	appends  []string // the path of every Append
	connects int
}

func (h *fakeHost) connect(ctx context.Context) (Files, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.connects++
	if h.connectFails > 0 {
		h.connectFails--
		return nil, errors.New("connection refused (fake)")
	}
	return &fakeFiles{h: h}, nil
}

type fakeFiles struct {
	h      *fakeHost
	broken bool
}

var errCut = errors.New("connection lost (fake)")

func (f *fakeFiles) lock(ctx context.Context) error {
	f.h.mu.Lock()
	if f.broken {
		f.h.mu.Unlock()
		return errCut
	}
	if err := ctx.Err(); err != nil {
		f.h.mu.Unlock()
		return err
	}
	return nil
}

func (f *fakeFiles) Size(ctx context.Context, path string) (int64, bool, error) {
	if err := f.lock(ctx); err != nil {
		return 0, false, err
	}
	defer f.h.mu.Unlock()
	b, ok := f.h.files[path]
	return int64(len(b)), ok, nil
}

func (f *fakeFiles) Append(ctx context.Context, path string, r io.Reader) error {
	if err := f.lock(ctx); err != nil {
		return err
	}
	h := f.h
	h.appends = append(h.appends, path)
	limit := int64(-1)
	if len(h.cuts) > 0 {
		limit, h.cuts = h.cuts[0], h.cuts[1:]
	}
	h.mu.Unlock()
	var got bytes.Buffer
	var err error
	if limit >= 0 {
		_, err = io.CopyN(&got, r, limit)
		if err == nil {
			err = errCut
		}
	} else {
		_, err = io.Copy(&got, r)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.files[path] = append(h.files[path], got.Bytes()...)
	if err != nil {
		f.broken = true
		return err
	}
	if h.corrupt || h.corruptAlways {
		h.corrupt = false
		h.files[path][len(h.files[path])/2] ^= 0xff
	}
	return nil
}

func (f *fakeFiles) Digest(ctx context.Context, path string) (string, error) {
	if err := f.lock(ctx); err != nil {
		return "", err
	}
	defer f.h.mu.Unlock()
	sum := sha256.Sum256(f.h.files[path])
	s := hex.EncodeToString(sum[:])
	if path == f.h.remote+".part" && s == f.h.goodSum {
		f.h.matched = true
	}
	return s, nil
}

func (f *fakeFiles) Rename(ctx context.Context, from, to string) error {
	if err := f.lock(ctx); err != nil {
		return err
	}
	defer f.h.mu.Unlock()
	b, ok := f.h.files[from]
	if !ok {
		return fmt.Errorf("mv: %s: no such file", from)
	}
	if to == f.h.remote && !f.h.matched {
		f.h.early = append(f.h.early, "rename before a matching digest")
	}
	delete(f.h.files, from)
	f.h.files[to] = b
	return nil
}

func (f *fakeFiles) Remove(ctx context.Context, path string) error {
	if err := f.lock(ctx); err != nil {
		return err
	}
	defer f.h.mu.Unlock()
	delete(f.h.files, path)
	return nil
}

func (f *fakeFiles) MkdirAll(ctx context.Context, dir string) error {
	if err := f.lock(ctx); err != nil {
		return err
	}
	f.h.mu.Unlock()
	return nil
}

// localFile writes n random bytes to a temp file.
func localFile(t *testing.T, n int) (string, []byte) {
	t.Helper()
	b := make([]byte, n)
	rand.Read(b)
	p := filepath.Join(t.TempDir(), "disk.qcow2")
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p, b
}

func newFakeHost(remote string, content []byte) *fakeHost {
	sum := sha256.Sum256(content)
	return &fakeHost{files: map[string][]byte{}, remote: remote, goodSum: hex.EncodeToString(sum[:])}
}

func TestUploadResumesRetriesAndRestartsOnCorruption(t *testing.T) {
	local, content := localFile(t, 1000)
	const remote = "/var/lib/drivelab/disk.qcow2"
	h := newFakeHost(remote, content)
	h.files[remote+".part"] = bytes.Repeat([]byte("x"), 1500) // longer than Local: removed
	h.connectFails = 1
	h.cuts = []int64{300, 250}
	h.corrupt = true
	var lines []string
	res, err := Upload(context.Background(), UploadInput{
		Local: local, Remote: remote, Host: "kvm1", Connect: h.connect, Attempts: 5, Backoff: time.Millisecond,
		Progress: func(f string, a ...any) { lines = append(lines, fmt.Sprintf(f, a...)) },
	})
	if err != nil {
		t.Fatal(err)
	}
	// 1: Connect fails. 2: .part removed, cut at 300. 3: resumed at 300,
	// cut after 250 more. 4: resumed at 550, completes, corrupt: starts
	// over on the same connection and completes.
	if res.Attempts != 4 || h.connects != 4 {
		t.Errorf("attempts %d, connects %d; want 4", res.Attempts, h.connects)
	}
	if !reflect.DeepEqual(res.ResumedAt, []int64{300, 550}) {
		t.Errorf("resumed at %v, want [300 550]", res.ResumedAt)
	}
	if res.Bytes != 300+250+450+1000 {
		t.Errorf("sent %d bytes, want 2000", res.Bytes)
	}
	if !bytes.Equal(h.files[remote], content) || res.Digest != h.goodSum || res.Skipped {
		t.Errorf("remote is not the local file (%d bytes), or result %+v", len(h.files[remote]), res)
	}
	if _, ok := h.files[remote+".part"]; ok {
		t.Error(".part left behind")
	}
	if len(h.early) > 0 {
		t.Errorf("Remote existed before its digest matched: %v", h.early)
	}
	for _, p := range h.appends {
		if p != remote+".part" {
			t.Errorf("appended to %s, not the .part", p)
		}
	}
	text := strings.Join(lines, "\n")
	for _, w := range []string{"longer than", "resumed at 0 MiB of 0 MiB after: connection lost", "starting over", "attempt 2 of 5", "connection refused"} {
		if !strings.Contains(text, w) {
			t.Errorf("progress does not say %q:\n%s", w, text)
		}
	}
}

func TestUploadSkipsAnIdenticalRemote(t *testing.T) {
	local, content := localFile(t, 100)
	h := newFakeHost("/r", content)
	h.files["/r"] = append([]byte(nil), content...)
	res, err := Upload(context.Background(), UploadInput{Local: local, Remote: "/r", Host: "kvm1", Connect: h.connect, Attempts: 1})
	if err != nil || !res.Skipped || len(h.appends) != 0 {
		t.Fatalf("%+v, %v, appends %v", res, err, h.appends)
	}
	// Same size, other content: copied again.
	h.files["/r"][0] ^= 1
	res, err = Upload(context.Background(), UploadInput{Local: local, Remote: "/r", Host: "kvm1", Connect: h.connect, Attempts: 1})
	if err != nil || res.Skipped || !bytes.Equal(h.files["/r"], content) {
		t.Fatalf("%+v, %v", res, err)
	}
}

func TestUploadGivesUpNamingHostAndFile(t *testing.T) {
	local, content := localFile(t, 100)
	h := newFakeHost("/r", content)
	h.cuts = []int64{10, 10, 10, 10}
	res, err := Upload(context.Background(), UploadInput{Local: local, Remote: "/r", Host: "kvm1", Connect: h.connect, Attempts: 3, Backoff: time.Millisecond})
	if err == nil {
		t.Fatal("no error")
	}
	for _, w := range []string{local, "kvm1:/r", "gave up after 3 attempts", "connection lost", "resumes"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not say %q", err, w)
		}
	}
	if res.Attempts != 3 || !reflect.DeepEqual(res.ResumedAt, []int64{10, 20}) {
		t.Errorf("%+v", res)
	}
	if _, ok := h.files["/r"]; ok {
		t.Error("Remote exists after a failed upload")
	}
}

func TestUploadSecondDigestMismatchIsAnError(t *testing.T) {
	local, content := localFile(t, 100)
	h := newFakeHost("/r", content)
	h.corruptAlways = true
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := Upload(ctx, UploadInput{Local: local, Remote: "/r", Host: "kvm1", Connect: h.connect, Attempts: 5, Backoff: time.Millisecond})
	if err == nil || !strings.Contains(err.Error(), "a second time") || res.Attempts != 1 {
		t.Fatalf("%+v, %v", res, err)
	}
	if _, ok := h.files["/r"]; ok {
		t.Error("Remote exists though its digest never matched")
	}
}

func TestUploadStopsWhenCtxEnds(t *testing.T) {
	local, content := localFile(t, 100)
	h := newFakeHost("/r", content)
	h.connectFails = 100
	ctx, cancel := context.WithCancel(context.Background())
	start := time.Now()
	// Cancelled during the first backoff, which would last an hour.
	_, err := Upload(ctx, UploadInput{Local: local, Remote: "/r", Host: "kvm1", Connect: h.connect, Attempts: 5, Backoff: time.Hour,
		Progress: func(string, ...any) { cancel() }})
	if !errors.Is(err, context.Canceled) || time.Since(start) > 5*time.Second {
		t.Fatalf("after %s: %v", time.Since(start), err)
	}
	if h.connects != 1 {
		t.Errorf("%d connects after the cancel", h.connects)
	}
	if !strings.Contains(err.Error(), "kvm1:/r") {
		t.Errorf("error %q does not name the file", err)
	}
}
