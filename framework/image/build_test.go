package image

import (
	"archive/tar"
	"bufio"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"testing/fstest"

	"github.com/drivelab/drivelab/framework/testenv"
)

// fakeMmdebstrap stands in for mmdebstrap: it makes a tiny root with a
// kernel, an initrd, a dpkg database and one real .deb per bundle, or fails
// the way FAKE_MODE says. Every call is appended to FAKE_CALLS.
const fakeMmdebstrap = `#!/bin/sh
set -eu
echo "$*" >>"$FAKE_CALLS"
pos=0
for a in "$@"; do
	case "$a" in --*) ;; *) pos=$((pos+1)); [ $pos -eq 2 ] && root=$a ;; esac
done
mkdir -p "$root/boot" "$root/var/lib/dpkg" "$root/etc"
echo partial >"$root/etc/partial"
case "$FAKE_MODE" in
fetch-fails)
	echo "E: Failed to fetch http://deb.example/debian/dists/bookworm/InRelease  Temporary failure resolving 'deb.example'" >&2
	echo "E: apt-get update failed" >&2
	exit 1 ;;
hang)
	echo started >"$FAKE_FIFO"
	exec sleep 600 ;;
esac
echo kernel >"$root/boot/vmlinuz-6.1.0-test"
echo initrd >"$root/boot/initrd.img-6.1.0-test"
installed=base-files
[ "$FAKE_MODE" = image-has-haproxy ] && installed="$installed haproxy"
for p in $installed; do
	printf 'Package: %s\nStatus: install ok installed\nVersion: 1.0\nInstalled-Size: 10\nArchitecture: all\nMaintainer: t\nDescription: t\n\n' "$p"
done >"$root/var/lib/dpkg/status"
for b in $DRIVELAB_BUNDLES; do
	d=$(mktemp -d)
	mkdir -p "$d/DEBIAN" "$DRIVELAB_BUNDLE_DIR/$b"
	printf 'Package: %s\nVersion: 1.0-1\nArchitecture: all\nMaintainer: t\nDescription: t\n' "$b" >"$d/DEBIAN/control"
	dpkg-deb --build "$d" "$DRIVELAB_BUNDLE_DIR/$b/${b}_1.0-1_all.deb" >/dev/null
	rm -rf "$d"
done
`

// fakeHost puts a fake mmdebstrap (and any extra fakes) first on PATH,
// pretends to be root, and returns a file that counts mmdebstrap's calls.
func fakeHost(t testing.TB, mode string, extra map[string]string) (calls string) {
	t.Helper()
	for _, tool := range tools[1:] {
		_, err := exec.LookPath(tool.name)
		testenv.Need(t, err == nil, "%s is not installed (Debian package %s): the build pipeline test needs the real one", tool.name, tool.pkg)
	}
	dir := t.TempDir()
	fakes := map[string]string{"mmdebstrap": fakeMmdebstrap}
	for name, script := range extra {
		fakes[name] = script
	}
	for name, script := range fakes {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("PATH", dir+":"+os.Getenv("PATH"))
	t.Setenv("FAKE_MODE", mode)
	calls = filepath.Join(dir, "calls")
	t.Setenv("FAKE_CALLS", calls)
	old := geteuid
	geteuid = func() int { return 0 }
	t.Cleanup(func() { geteuid = old })
	return calls
}

func countLines(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.Count(string(b), "\n")
}

// fakeBuild builds into a fresh cache with the fake mmdebstrap.
func fakeBuild(t testing.TB, cache string) (Artifacts, error) {
	return Build(context.Background(), BuildInput{CacheDir: cache, Mirror: "http://deb.example/debian"})
}

// assertNothingLooksBuilt checks a failed build left no image and no temp dir.
func assertNothingLooksBuilt(t *testing.T, cache string) {
	t.Helper()
	if a, err := Lookup(cache); err == nil || !errors.Is(err, ErrNotBuilt) {
		t.Errorf("after a failed build Lookup = %+v, %v; want ErrNotBuilt", a, err)
	}
	entries, _ := os.ReadDir(filepath.Join(cache, "image"))
	for _, e := range entries {
		if e.Name() != ".lock" {
			t.Errorf("a failed build left %s in the cache", filepath.Join(cache, "image", e.Name()))
		}
	}
}

func TestBuildMakesACompleteBuildAndThenHitsTheCache(t *testing.T) {
	calls := fakeHost(t, "ok", nil)
	cache := t.TempDir()
	if _, err := Lookup(cache); !errors.Is(err, ErrNotBuilt) || !strings.Contains(err.Error(), "e2e image build --cache "+cache) {
		t.Fatalf("Lookup of an empty cache = %v, want ErrNotBuilt telling to run e2e image build", err)
	}
	a, err := fakeBuild(t, cache)
	if err != nil {
		t.Fatal(err)
	}
	r, _ := currentRecipe()
	if a.RecipeHash != r.hash || a.Dir != filepath.Join(cache, "image", r.key()) || a.Cmdline != r.cmdline {
		t.Errorf("artifacts %+v do not match recipe %s", a, r.key())
	}
	if st, err := os.Stat(a.Dir); err != nil {
		t.Error(err)
	} else if st.Mode().Perm() != 0o755 {
		t.Errorf("build directory %s has mode %v; want 0755 so every user of the cache can read it", a.Dir, st.Mode().Perm())
	}
	if format, err := Inspect(a.Disk); err != nil || format != FormatQCOW2 {
		t.Errorf("disk %s: %q, %v; want qcow2", a.Disk, format, err)
	}
	for _, f := range []string{a.Kernel, a.Initrd, a.Manifest} {
		if st, err := os.Stat(f); err != nil || st.Size() == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
	// Each bundle recipe/bundles names: a gzip tar with only .debs at its top level.
	bundles, err := Bundles()
	if err != nil || !slices.Equal(bundles, []string{"haproxy.tar.gz", "apache2.tar.gz"}) {
		t.Errorf("bundles %q, %v; want the ones recipe/bundles names", bundles, err)
	}
	for _, f := range bundles {
		b := strings.TrimSuffix(f, ".tar.gz")
		names := tarNames(t, filepath.Join(a.PackageDir, f))
		if len(names) != 1 || names[0] != b+"_1.0-1_all.deb" {
			t.Errorf("%s holds %q, want [%s_1.0-1_all.deb]", f, names, b)
		}
	}
	entries, _ := os.ReadDir(a.PackageDir)
	if len(entries) != len(bundles) {
		t.Errorf("%s holds %d files, want exactly the %d bundles", a.PackageDir, len(entries), len(bundles))
	}
	var m manifest
	b, _ := os.ReadFile(a.Manifest)
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	if len(m.Packages) != 1 || m.Packages[0].Name != "base-files" || m.Bundles["apache2"][0].Version != "1.0-1" ||
		m.Files[diskFile].SHA256 == "" || m.RootFreeBytes < 1<<30 || m.AptSources != "http://deb.example/debian" {
		t.Errorf("manifest is incomplete: %s", b)
	}
	// Nothing of the build's scaffolding stays.
	dirEntries, _ := os.ReadDir(a.Dir)
	for _, e := range dirEntries {
		switch e.Name() {
		case diskFile, kernelFile, initrdFile, manifestFile, packageDir:
		default:
			t.Errorf("the build left %s in %s", e.Name(), a.Dir)
		}
	}

	again, err := fakeBuild(t, cache)
	if err != nil || again != a {
		t.Errorf("second Build = %+v, %v; want the cached %+v", again, err, a)
	}
	if looked, err := Lookup(cache); err != nil || looked != a {
		t.Errorf("Lookup = %+v, %v; want %+v", looked, err, a)
	}
	if n := countLines(t, calls); n != 1 {
		t.Errorf("mmdebstrap ran %d times for one recipe, want 1", n)
	}

	// A changed recipe is a different build.
	changed := copyRecipe(t)
	changed["recipe/packages"].Data = append(changed["recipe/packages"].Data, "less\n"...)
	withRecipe(t, changed)
	if _, err := Lookup(cache); !errors.Is(err, ErrNotBuilt) {
		t.Errorf("Lookup after a recipe change = %v, want ErrNotBuilt", err)
	}
	b2, err := fakeBuild(t, cache)
	if err != nil {
		t.Fatal(err)
	}
	if b2.Dir == a.Dir || countLines(t, calls) != 2 {
		t.Errorf("a changed recipe did not rebuild: %s, %d mmdebstrap calls", b2.Dir, countLines(t, calls))
	}
}

func withRecipe(t *testing.T, fsys fstest.MapFS) {
	old := currentRecipe
	currentRecipe = func() (recipe, error) { return loadRecipe(fsys) }
	t.Cleanup(func() { currentRecipe = old })
}

func tarNames(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return names
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, h.Name)
	}
}

func TestConcurrentBuildsBuildOnce(t *testing.T) {
	calls := fakeHost(t, "ok", nil)
	cache := t.TempDir()
	var wg sync.WaitGroup
	results := make([]Artifacts, 3)
	errs := make([]error, 3)
	for i := range results {
		wg.Go(func() { results[i], errs[i] = fakeBuild(t, cache) })
	}
	wg.Wait()
	for i := range results {
		if errs[i] != nil || results[i] != results[0] {
			t.Errorf("build %d: %+v, %v; want %+v", i, results[i], errs[i], results[0])
		}
	}
	if n := countLines(t, calls); n != 1 {
		t.Errorf("three concurrent builds ran mmdebstrap %d times, want 1", n)
	}
}

func TestBuildRemovesInterruptedBuilds(t *testing.T) {
	fakeHost(t, "ok", nil)
	cache := t.TempDir()
	stale := filepath.Join(cache, "image", tmpPrefix+"debian12-0123456789abcdef-42")
	if err := os.MkdirAll(filepath.Join(stale, "root", "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := fakeBuild(t, cache); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the interrupted build %s is still there (%v)", stale, err)
	}
}

func TestBuildFailuresSayWhyAndLeaveNothing(t *testing.T) {
	for _, c := range []struct {
		name  string
		mode  string
		extra map[string]string
		want  []string
	}{
		{"apt sources unreachable", "fetch-fails", nil,
			[]string{"mmdebstrap failed", "apt sources are unreachable", "apt-get update", "--mirror", "Temporary failure resolving"}},
		{"disk full", "ok", map[string]string{"mkfs.ext4": "#!/bin/sh\necho 'mkfs.ext4: No space left on device while writing out and closing file system' >&2\nexit 1\n"},
			[]string{"mkfs.ext4 failed", "disk is full", "--cache DIR"}},
		{"bundle package in the image", "image-has-haproxy", nil,
			[]string{"the image contains haproxy", "only in its bundle"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			fakeHost(t, c.mode, c.extra)
			cache := t.TempDir()
			_, err := fakeBuild(t, cache)
			if err == nil {
				t.Fatal("the build succeeded")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not mention %q:\n%v", w, err)
				}
			}
			assertNothingLooksBuilt(t, cache)
		})
	}
}

func TestCancelledBuildStopsTheToolAndLeavesNothing(t *testing.T) {
	fakeHost(t, "hang", nil)
	fifo := filepath.Join(t.TempDir(), "started")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("FAKE_FIFO", fifo)
	cache := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := Build(ctx, BuildInput{CacheDir: cache, Mirror: "http://deb.example/debian"})
		done <- err
	}()
	// Opening the FIFO blocks until the fake mmdebstrap is running.
	f, err := os.Open(fifo)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bufio.NewReader(f).ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	f.Close()
	cancel()
	err = <-done
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "mmdebstrap interrupted") {
		t.Errorf("cancelled build returned %v, want mmdebstrap interrupted: context canceled", err)
	}
	assertNothingLooksBuilt(t, cache)
}

func TestPreflightNamesEveryProblemAndItsFix(t *testing.T) {
	t.Setenv("PATH", t.TempDir()) // no tool at all
	old := geteuid
	geteuid = func() int { return 1000 }
	t.Cleanup(func() { geteuid = old })
	cache := filepath.Join(t.TempDir(), "not", "yet", "there")
	err := preflight(cache, 1<<62)
	if err == nil {
		t.Fatal("preflight passed without root, tools or space")
	}
	want := []string{"must run as root", "sudo e2e image build", "--cache DIR"}
	for _, tool := range tools {
		want = append(want, tool.name+" is not on PATH", "apt-get install "+tool.pkg)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("preflight error does not mention %q:\n%v", w, err)
		}
	}
	if _, statErr := os.Stat(cache); !errors.Is(statErr, os.ErrNotExist) {
		t.Errorf("preflight created %s", cache)
	}
}

func TestPreflightPassesOnAGoodHost(t *testing.T) {
	dir := t.TempDir()
	for _, tool := range tools {
		if err := os.WriteFile(filepath.Join(dir, tool.name), []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("PATH", dir)
	old := geteuid
	geteuid = func() int { return 0 }
	t.Cleanup(func() { geteuid = old })
	if err := preflight(t.TempDir(), 1<<20); err != nil {
		t.Errorf("preflight on a good host: %v", err)
	}
}

func TestLookupRejectsIncompleteBuilds(t *testing.T) {
	fakeHost(t, "ok", nil)
	for _, c := range []struct {
		name   string
		damage func(a Artifacts) error
	}{
		{"truncated disk", func(a Artifacts) error { return os.Truncate(a.Disk, 4096) }},
		{"missing bundle", func(a Artifacts) error { return os.Remove(filepath.Join(a.PackageDir, "apache2.tar.gz")) }},
		{"missing manifest", func(a Artifacts) error { return os.Remove(a.Manifest) }},
		{"manifest of another recipe", func(a Artifacts) error {
			b, err := os.ReadFile(a.Manifest)
			if err != nil {
				return err
			}
			return os.WriteFile(a.Manifest, []byte(strings.Replace(string(b), a.RecipeHash, strings.Repeat("0", 64), 1)), 0o644)
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			cache := t.TempDir()
			a, err := fakeBuild(t, cache)
			if err != nil {
				t.Fatal(err)
			}
			if err := c.damage(a); err != nil {
				t.Fatal(err)
			}
			if _, err := Lookup(cache); !errors.Is(err, ErrNotBuilt) {
				t.Errorf("Lookup of a build with a %s = %v, want ErrNotBuilt", c.name, err)
			}
			// Build replaces it with a good one.
			if b, err := fakeBuild(t, cache); err != nil || b != a {
				t.Errorf("rebuild over a %s: %+v, %v", c.name, b, err)
			}
		})
	}
}

// BenchmarkCacheHit is the path every `e2e image build` and every run takes
// once the image exists (the brief wants it well under a second).
func BenchmarkCacheHit(b *testing.B) {
	fakeHost(b, "ok", nil)
	cache := b.TempDir()
	if _, err := fakeBuild(b, cache); err != nil {
		b.Fatal(err)
	}
	b.Run("Lookup", func(b *testing.B) {
		for b.Loop() {
			if _, err := Lookup(cache); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Build", func(b *testing.B) {
		for b.Loop() {
			if _, err := fakeBuild(b, cache); err != nil {
				b.Fatal(err)
			}
		}
	})
}
