package image

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/drivelab/drivelab/framework/config"
	"github.com/drivelab/drivelab/framework/wait"
)

// minFreeBytes is what a build needs in the cache filesystem at its peak:
// the root tree, the raw filesystem and the qcow2 side by side.
const minFreeBytes = 3 << 30

// tools the build runs, with the Debian package that has each.
var tools = []struct{ name, pkg string }{
	{"mmdebstrap", "mmdebstrap"},
	{"qemu-img", "qemu-utils"},
	{"mkfs.ext4", "e2fsprogs"},
	{"tune2fs", "e2fsprogs"},
	{"dpkg-query", "dpkg"},
	{"dpkg-deb", "dpkg"},
}

// geteuid is replaced by tests that check the root requirement.
var geteuid = os.Geteuid

// Build returns the cached build of the current recipe, or builds it: a
// Debian root with mmdebstrap (from the host's apt sources unless in.Mirror
// says otherwise), the bundles resolved inside that root, then the qcow2
// disk, kernel, initrd and manifest. The build happens in a temporary
// directory next to the cache entry and is renamed into place only when
// complete; a failed or cancelled build leaves nothing behind.
func Build(ctx context.Context, in BuildInput) (Artifacts, error) {
	if in.CacheDir == "" {
		in.CacheDir = config.DefaultCacheDir
	}
	// Images are built on the TCG runner: its intervals, unless given.
	if in.Intervals == (config.Intervals{}) {
		in.Intervals = config.DefaultIntervals(config.AccelTCG)
	}
	if in.Log == nil {
		in.Log = io.Discard
	}
	r, err := currentRecipe()
	if err != nil {
		return Artifacts{}, err
	}
	final := buildDir(in.CacheDir, r)
	if a, err := lookup(final, r); err == nil {
		return a, nil
	}
	if err := preflight(in.CacheDir, minFreeBytes); err != nil {
		return Artifacts{}, err
	}
	parent := filepath.Dir(final)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return Artifacts{}, fmt.Errorf("creating the image cache: %w: pass --cache DIR with a writable directory", err)
	}
	unlock, err := lockDir(ctx, parent, in.Log, in.Intervals.Poll)
	if err != nil {
		return Artifacts{}, err
	}
	defer unlock()
	// Another process may have finished the same build while we waited.
	if a, err := lookup(final, r); err == nil {
		return a, nil
	}
	if err := removeStale(parent, in.Log); err != nil {
		return Artifacts{}, err
	}
	tmp, err := os.MkdirTemp(parent, tmpPrefix+r.key()+"-")
	if err == nil {
		err = os.Chmod(tmp, 0o755) // MkdirTemp makes it private; the build is for every user of the cache
	}
	if err != nil {
		return Artifacts{}, fmt.Errorf("creating the build directory: %w", err)
	}
	done := false
	defer func() {
		if !done {
			os.RemoveAll(tmp)
		}
	}()
	fmt.Fprintf(in.Log, "image: building recipe %.12s in %s (a few minutes)\n", r.hash, final)
	b := &builder{r: r, dir: tmp, mirror: in.Mirror, log: in.Log, waits: in.Intervals}
	if err := b.run(ctx); err != nil {
		return Artifacts{}, fmt.Errorf("building the guest image (the partial build is removed): %w", err)
	}
	// Whatever sits at final failed lookup: it is not a build of this recipe.
	if err := os.RemoveAll(final); err != nil {
		return Artifacts{}, err
	}
	if err := os.Rename(tmp, final); err != nil {
		return Artifacts{}, fmt.Errorf("moving the build into place: %w", err)
	}
	done = true
	return lookup(final, r)
}

// preflight finds every reason a build cannot start, before it touches anything.
func preflight(cacheDir string, need uint64) error {
	var problems []string
	if geteuid() != 0 {
		problems = append(problems, "the build must run as root (mmdebstrap installs a root-owned system and "+
			"chroots into it): run it as root, e.g. `sudo e2e image build`")
	}
	for _, t := range tools {
		if _, err := exec.LookPath(t.name); err != nil {
			problems = append(problems, fmt.Sprintf("%s is not on PATH: install the Debian package %s "+
				"(`apt-get install %s`; `make image` installs it)", t.name, t.pkg, t.pkg))
		}
	}
	if free, dir, err := freeBytes(cacheDir); err != nil {
		problems = append(problems, fmt.Sprintf("cannot check the free space for %s: %v", cacheDir, err))
	} else if free < need {
		problems = append(problems, fmt.Sprintf("the filesystem of %s has %.1f GiB free and a build needs %.1f GiB: "+
			"free some space or pass --cache DIR on a larger filesystem", dir, float64(free)/(1<<30), float64(need)/(1<<30)))
	}
	if len(problems) == 0 {
		return nil
	}
	return fmt.Errorf("cannot build the guest image:\n  - %s", strings.Join(problems, "\n  - "))
}

// freeBytes is the space available to unprivileged users under dir, or
// under its closest existing parent when dir does not exist yet.
func freeBytes(dir string) (uint64, string, error) {
	dir = filepath.Clean(dir)
	for {
		var st unix.Statfs_t
		err := unix.Statfs(dir, &st)
		if err == nil {
			return st.Bavail * uint64(st.Bsize), dir, nil
		}
		if !errors.Is(err, unix.ENOENT) || filepath.Dir(dir) == dir {
			return 0, dir, err
		}
		dir = filepath.Dir(dir)
	}
}

// lockDir serialises builds sharing a cache; it polls so ctx can cancel the wait.
func lockDir(ctx context.Context, dir string, log io.Writer, poll time.Duration) (unlock func(), err error) {
	f, err := os.OpenFile(filepath.Join(dir, ".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("locking the image cache: %w", err)
	}
	said := false
	err = wait.Until(ctx, wait.Input{What: "the image cache's lock " + f.Name(), Interval: poll}, func(context.Context) (bool, string, error) {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		switch {
		case err == nil:
			return true, "", nil
		case !errors.Is(err, unix.EWOULDBLOCK):
			return false, "", fmt.Errorf("locking %s: %w", f.Name(), err)
		}
		if !said {
			fmt.Fprintf(log, "image: waiting for another image build to finish (%s)\n", f.Name())
			said = true
		}
		return false, "another image build holds it", nil
	})
	if err != nil {
		f.Close()
		return nil, err
	}
	return func() { f.Close() }, nil
}

// removeStale deletes builds that were interrupted; the caller holds the lock,
// so no build is running.
func removeStale(dir string, log io.Writer) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), tmpPrefix) {
			continue
		}
		fmt.Fprintf(log, "image: removing interrupted build %s\n", e.Name())
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			return fmt.Errorf("removing the interrupted build %s: %w", filepath.Join(dir, e.Name()), err)
		}
	}
	return nil
}

// builder makes one build in dir.
type builder struct {
	r      recipe
	dir    string
	mirror string
	log    io.Writer
	// waits: Teardown bounds a tool's exit after SIGTERM.
	waits config.Intervals
	m     manifest
}

func (b *builder) path(elem ...string) string {
	return filepath.Join(append([]string{b.dir}, elem...)...)
}

func (b *builder) step(ctx context.Context, what string, f func(context.Context) error) error {
	start := time.Now()
	fmt.Fprintf(b.log, "image: %s\n", what)
	if err := f(ctx); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	fmt.Fprintf(b.log, "image: %s: done in %s\n", what, time.Since(start).Round(100*time.Millisecond))
	return nil
}

func (b *builder) run(ctx context.Context) error {
	start := time.Now()
	b.m = manifest{
		Flavor: flavor, Suite: suite, RecipeHash: b.r.hash, BuilderVersion: builderVersion,
		Cmdline: b.r.cmdline, DiskSize: diskSize, Files: map[string]fileInfo{}, Bundles: map[string][]pkg{},
	}
	for _, s := range []struct {
		what string
		f    func(context.Context) error
	}{
		{"bootstrapping Debian " + suite + " and resolving the bundles (mmdebstrap)", b.bootstrap},
		{"extracting the kernel and initrd", b.extractBoot},
		{"making the root filesystem", b.makeDisk},
		{"packing the bundles", b.packBundles},
		{"writing the manifest", b.writeManifest(start)},
	} {
		if err := b.step(ctx, s.what, s.f); err != nil {
			return err
		}
	}
	// The rename that publishes the build must not outrun its data.
	f, err := os.Open(b.dir)
	if err != nil {
		return err
	}
	defer f.Close()
	return unix.Syncfs(int(f.Fd()))
}

func (b *builder) bootstrap(ctx context.Context) error {
	recipeDir := b.path("recipe")
	if err := writeRecipe(recipeFiles, recipeDir); err != nil {
		return err
	}
	args := []string{
		// unshare as root: mmdebstrap's mounts live in a private mount
		// namespace, so nothing stays mounted in the build tree even when
		// the build is killed, and removing the tree cannot reach the host.
		"--mode=unshare",
		"--variant=minbase",
		"--include=" + strings.Join(b.r.packages, ","),
		"--aptopt=" + filepath.Join(recipeDir, "apt.conf"),
		"--dpkgopt=" + filepath.Join(recipeDir, "dpkg.cfg"),
		// The overlay goes in before the packages, so their postinsts (the
		// initramfs above all) already see it.
		"--essential-hook=sync-in " + filepath.Join(recipeDir, "overlay") + " /",
		"--customize-hook=" + filepath.Join(recipeDir, "customize.sh"),
		suite, b.path("root"),
	}
	if b.mirror != "" {
		args = append(args, b.mirror)
		b.m.AptSources = b.mirror
	} else {
		src, err := hostSources("/etc/apt", suite)
		if err != nil {
			return err
		}
		for _, f := range []struct{ name, text string }{{"host.list", src.oneLine}, {"host.sources", src.deb822}} {
			if f.text == "" {
				continue
			}
			if err := os.WriteFile(b.path(f.name), []byte(f.text), 0o644); err != nil {
				return err
			}
			args = append(args, b.path(f.name))
		}
		b.m.AptSources = src.String()
		fmt.Fprintf(b.log, "image: apt sources from %s\n", strings.Join(src.from, ", "))
	}
	env := []string{
		"DRIVELAB_BUNDLES=" + strings.Join(b.r.bundles, " "),
		"DRIVELAB_BUNDLE_DIR=" + b.path("bundles"),
		"DEBIAN_FRONTEND=noninteractive",
	}
	if err := b.tool(ctx, env, "mmdebstrap", args...); err != nil {
		return err
	}
	out, err := output(ctx, "dpkg-query", "--admindir="+b.path("root", "var/lib/dpkg"), "-W",
		"-f=${Package}\t${Version}\t${Installed-Size}\n")
	if err != nil {
		return err
	}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Split(line, "\t")
		if len(f) != 3 {
			continue
		}
		kib, _ := strconv.ParseInt(f[2], 10, 64)
		b.m.Packages = append(b.m.Packages, pkg{Name: f[0], Version: f[1], InstalledKiB: kib})
	}
	for _, p := range b.m.Packages {
		if slices.Contains(b.r.bundles, p.Name) {
			return fmt.Errorf("the image contains %s, which must travel only in its bundle: remove it from the recipe", p.Name)
		}
	}
	return nil
}

// extractBoot links the one kernel and initrd of the root's /boot out.
func (b *builder) extractBoot(context.Context) error {
	for _, f := range []struct{ glob, name string }{{"vmlinuz-*", kernelFile}, {"initrd.img-*", initrdFile}} {
		m, _ := filepath.Glob(b.path("root", "boot", f.glob))
		if len(m) != 1 {
			return fmt.Errorf("want exactly one /boot/%s in the image, found %d: check recipe/packages", f.glob, len(m))
		}
		if err := os.Link(m[0], b.path(f.name)); err != nil {
			return err
		}
	}
	return nil
}

// makeDisk writes the root tree into an ext4 filesystem (no mount needed)
// and converts it to qcow2.
func (b *builder) makeDisk(ctx context.Context) error {
	raw := b.path("root.raw")
	// Inode tables and journal are initialised now, not by the guest's
	// kernel in the background of every boot.
	if err := b.tool(ctx, nil, "mkfs.ext4", "-q", "-F", "-L", "root", "-m", "0",
		"-E", "lazy_itable_init=0,lazy_journal_init=0", "-d", b.path("root"), raw, diskSize); err != nil {
		return err
	}
	out, err := output(ctx, "tune2fs", "-l", raw)
	if err != nil {
		return err
	}
	var freeBlocks, blockSize int64
	for _, line := range strings.Split(out, "\n") {
		k, v, _ := strings.Cut(line, ":")
		switch k {
		case "Free blocks":
			freeBlocks, _ = strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		case "Block size":
			blockSize, _ = strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		}
	}
	b.m.RootFreeBytes = freeBlocks * blockSize
	if err := b.tool(ctx, nil, "qemu-img", "convert", "-f", "raw", "-O", "qcow2", raw, b.path(diskFile)); err != nil {
		return err
	}
	if err := os.Remove(raw); err != nil {
		return err
	}
	return os.RemoveAll(b.path("root"))
}

// packBundles turns each bundles/<name>/ of .debs into packages/<name>.tar.gz,
// with the .debs at the top level as the drives' user_data expects.
func (b *builder) packBundles(ctx context.Context) error {
	if err := os.MkdirAll(b.path(packageDir), 0o755); err != nil {
		return err
	}
	for _, name := range b.r.bundles {
		debs, _ := filepath.Glob(b.path("bundles", name, "*.deb"))
		if len(debs) == 0 {
			return fmt.Errorf("bundle %s is empty: the customize hook downloaded no .deb for it", name)
		}
		slices.Sort(debs)
		for _, d := range debs {
			out, err := output(ctx, "dpkg-deb", "--show", "--showformat=${Package}\t${Version}", d)
			if err != nil {
				return err
			}
			p, v, _ := strings.Cut(out, "\t")
			info, err := hashFile(d)
			if err != nil {
				return err
			}
			b.m.Bundles[name] = append(b.m.Bundles[name],
				pkg{Name: p, Version: v, File: filepath.Base(d), Size: info.Size, SHA256: info.SHA256})
		}
		if err := writeTarGz(b.path(packageDir, name+".tar.gz"), debs); err != nil {
			return err
		}
	}
	return os.RemoveAll(b.path("bundles"))
}

func (b *builder) writeManifest(start time.Time) func(context.Context) error {
	return func(context.Context) error {
		for _, name := range []string{"recipe", "host.list", "host.sources"} {
			if err := os.RemoveAll(b.path(name)); err != nil {
				return err
			}
		}
		files := []string{diskFile, kernelFile, initrdFile}
		for _, f := range b.r.bundleFiles() {
			files = append(files, filepath.Join(packageDir, f))
		}
		for _, name := range files {
			info, err := hashFile(b.path(name))
			if err != nil {
				return err
			}
			b.m.Files[name] = info
		}
		b.m.BuiltAt = time.Now().UTC().Round(time.Second)
		b.m.BuildSeconds = time.Since(start).Round(time.Second).Seconds()
		j, err := json.MarshalIndent(b.m, "", "  ")
		if err != nil {
			return err
		}
		return os.WriteFile(b.path(manifestFile), append(j, '\n'), 0o644)
	}
}

func hashFile(path string) (fileInfo, error) {
	f, err := os.Open(path)
	if err != nil {
		return fileInfo{}, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return fileInfo{}, err
	}
	return fileInfo{Size: n, SHA256: hex.EncodeToString(h.Sum(nil))}, nil
}

// writeTarGz writes files, by base name, into a gzip tar at path.
func writeTarGz(path string, files []string) error {
	out, err := os.Create(path)
	if err != nil {
		return err
	}
	defer out.Close()
	bw := bufio.NewWriter(out)
	zw := gzip.NewWriter(bw)
	tw := tar.NewWriter(zw)
	for _, name := range files {
		if err := addFile(tw, name); err != nil {
			return err
		}
	}
	for _, c := range []io.Closer{tw, zw} {
		if err := c.Close(); err != nil {
			return err
		}
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	return out.Close()
}

func addFile(tw *tar.Writer, name string) error {
	f, err := os.Open(name)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	hdr := &tar.Header{Name: filepath.Base(name), Mode: 0o644, Size: st.Size(), ModTime: st.ModTime(),
		Typeflag: tar.TypeReg, Uname: "root", Gname: "root", Format: tar.FormatPAX}
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	_, err = io.Copy(tw, f)
	return err
}

// tool runs a build tool in its own process group with its output going to
// the build's log. Cancelling ctx sends the group SIGTERM (mmdebstrap cleans
// up on it), then SIGKILL after the Teardown interval.
func (b *builder) tool(ctx context.Context, env []string, name string, args ...string) error {
	var tail tailBuffer
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdout = io.MultiWriter(b.log, &tail)
	cmd.Stderr = cmd.Stdout
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM) }
	cmd.WaitDelay = b.waits.Teardown
	err := cmd.Run()
	if cmd.Process != nil {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // stragglers of the group, if any
	}
	if err != nil {
		return toolFailed(ctx, name, err, tail.String())
	}
	return nil
}

// output runs a quick query tool and returns its stdout.
func output(ctx context.Context, name string, args ...string) (string, error) {
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", toolFailed(ctx, name, err, stderr.String())
	}
	return stdout.String(), nil
}

// toolFailed explains a tool's failure by its known causes and their fixes.
func toolFailed(ctx context.Context, name string, err error, out string) error {
	if ctx.Err() != nil {
		return fmt.Errorf("%s interrupted: %w", name, ctx.Err())
	}
	hint := ""
	switch {
	case containsAny(out, "No space left on device"):
		hint = ": the disk is full: free some space or pass --cache DIR on a larger filesystem"
	case containsAny(out, "Temporary failure resolving", "Could not resolve", "Failed to fetch",
		"Unable to connect", "Could not connect", "Connection timed out", "Network is unreachable",
		"apt-get update failed", "Unable to locate package"):
		hint = ": the apt sources are unreachable or incomplete: check that `apt-get update` works on this host, " +
			"or pass --mirror URL of a reachable Debian " + suite + " mirror"
	}
	return fmt.Errorf("%s failed (%v)%s\n--- last output of %s ---\n%s", name, err, hint, name, strings.TrimRight(out, "\n"))
}

func containsAny(s string, subs ...string) bool {
	return slices.ContainsFunc(subs, func(sub string) bool { return strings.Contains(s, sub) })
}

// tailBuffer keeps the last lines a tool wrote, for its error message.
type tailBuffer struct{ buf []byte }

const tailBytes = 4 << 10

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.buf = append(t.buf, p...)
	if len(t.buf) > 2*tailBytes {
		t.buf = append(t.buf[:0], t.buf[len(t.buf)-tailBytes:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	s := string(t.buf[max(0, len(t.buf)-tailBytes):])
	if i := strings.IndexByte(s, '\n'); i >= 0 && len(t.buf) > tailBytes {
		s = s[i+1:] // start at a whole line
	}
	return s
}
