// Package image builds the harness's default guest, Debian 12 with cloud-init
// for direct kernel boot, together with the offline package bundles its
// config drives carry (recipe/bundles names them), and caches them under a
// hash of the embedded recipe.
//
// A build lives in CacheDir/image/debian12-<hash>/ and appears there only
// complete: it is made in a temporary sibling and renamed into place.
package image

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/drivelab/drivelab/framework/config"
)

// Artifacts are the files of one build.
type Artifacts struct {
	// Dir holds everything below; its name carries the recipe hash.
	Dir string
	// Disk is the qcow2 root filesystem (a bare ext4 filesystem, /dev/vda):
	// boot guests from overlays on top of it, never write to it.
	Disk string
	// Kernel, Initrd and Cmdline are for direct kernel boot.
	Kernel  string
	Initrd  string
	Cmdline string
	// PackageDir holds the bundles (see Bundles): gzip tars of .debs that
	// `dpkg -i *.deb` installs offline on this image.
	PackageDir string
	// Manifest is the JSON record of the build: package versions, sizes, hashes.
	Manifest string
	// RecipeHash is the full hash of the recipe the build was made from.
	RecipeHash string
}

// BuildInput says where to build and what to report.
type BuildInput struct {
	// CacheDir is the cache root; default config.DefaultCacheDir.
	CacheDir string
	// Intervals: Poll paces the wait for another build, Teardown bounds a
	// cancelled tool's exit; zero: config.DefaultIntervals(config.AccelTCG).
	Intervals config.Intervals
	// Mirror replaces the host's apt sources: anything mmdebstrap takes as a
	// MIRROR (a URL, a "deb ..." line, a sources file). It only matters when
	// the recipe is not cached yet.
	Mirror string
	// Log receives the build's progress and tool output; nil discards it.
	Log io.Writer
}

// Names inside a build directory.
const (
	diskFile     = "disk.qcow2"
	kernelFile   = "vmlinuz"
	initrdFile   = "initrd.img"
	manifestFile = "manifest.json"
	packageDir   = "packages"
	// tmpPrefix marks builds in progress (or interrupted) next to the builds.
	tmpPrefix = ".build-"
)

// ErrNotBuilt says the cache holds no complete build of the current recipe.
var ErrNotBuilt = errors.New("guest image not built")

// manifest is manifest.json.
type manifest struct {
	Flavor         string    `json:"flavor"`
	Suite          string    `json:"suite"`
	RecipeHash     string    `json:"recipe_hash"`
	BuilderVersion int       `json:"builder_version"`
	BuiltAt        time.Time `json:"built_at"`
	BuildSeconds   float64   `json:"build_seconds"`
	AptSources     string    `json:"apt_sources"`
	Cmdline        string    `json:"cmdline"`
	// DiskSize and RootFreeBytes describe the root filesystem.
	DiskSize      string `json:"disk_size"`
	RootFreeBytes int64  `json:"root_free_bytes"`
	// Files are the build's files by path relative to the build directory.
	Files map[string]fileInfo `json:"files"`
	// Packages are installed in the image; Bundles are the .debs of each bundle.
	Packages []pkg            `json:"packages"`
	Bundles  map[string][]pkg `json:"bundles"`
}

type fileInfo struct {
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

type pkg struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	// InstalledKiB for image packages; File, Size and SHA256 for bundled .debs.
	InstalledKiB int64  `json:"installed_kib,omitempty"`
	File         string `json:"file,omitempty"`
	Size         int64  `json:"size,omitempty"`
	SHA256       string `json:"sha256,omitempty"`
}

// Lookup returns the cached build of the current recipe, or an ErrNotBuilt
// error that tells the user how to build it. It only reads the manifest and
// stats the files, so it is cheap enough to call before every run.
func Lookup(cacheDir string) (Artifacts, error) {
	if cacheDir == "" {
		cacheDir = config.DefaultCacheDir
	}
	r, err := currentRecipe()
	if err != nil {
		return Artifacts{}, err
	}
	a, err := lookup(buildDir(cacheDir, r), r)
	if err != nil {
		cmd := "e2e image build"
		if cacheDir != config.DefaultCacheDir {
			cmd += " --cache " + cacheDir
		}
		return Artifacts{}, fmt.Errorf("%w for recipe %.12s in %s (%v): run `%s` (or make image)",
			ErrNotBuilt, r.hash, cacheDir, err, cmd)
	}
	return a, nil
}

// Bundles are the file names of the bundles in a build's PackageDir, one
// per line of recipe/bundles: "<name>.tar.gz".
func Bundles() ([]string, error) {
	r, err := currentRecipe()
	if err != nil {
		return nil, err
	}
	return r.bundleFiles(), nil
}

func buildDir(cacheDir string, r recipe) string {
	return filepath.Join(cacheDir, "image", r.key())
}

// lookup checks that dir holds a complete build of r: its manifest names r
// and every file the manifest lists is there with its recorded size.
func lookup(dir string, r recipe) (Artifacts, error) {
	b, err := os.ReadFile(filepath.Join(dir, manifestFile))
	if err != nil {
		return Artifacts{}, err
	}
	var m manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return Artifacts{}, fmt.Errorf("%s: %w", filepath.Join(dir, manifestFile), err)
	}
	if m.RecipeHash != r.hash {
		return Artifacts{}, fmt.Errorf("%s was built from recipe %.12s", dir, m.RecipeHash)
	}
	want := []string{diskFile, kernelFile, initrdFile}
	for _, f := range r.bundleFiles() {
		want = append(want, filepath.Join(packageDir, f))
	}
	for _, name := range want {
		if _, ok := m.Files[name]; !ok {
			return Artifacts{}, fmt.Errorf("%s: manifest lists no %s", dir, name)
		}
	}
	for name, f := range m.Files {
		st, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			return Artifacts{}, err
		}
		if st.Size() != f.Size {
			return Artifacts{}, fmt.Errorf("%s is %d bytes, the manifest says %d", filepath.Join(dir, name), st.Size(), f.Size)
		}
	}
	return Artifacts{
		Dir:        dir,
		Disk:       filepath.Join(dir, diskFile),
		Kernel:     filepath.Join(dir, kernelFile),
		Initrd:     filepath.Join(dir, initrdFile),
		Cmdline:    m.Cmdline,
		PackageDir: filepath.Join(dir, packageDir),
		Manifest:   filepath.Join(dir, manifestFile),
		RecipeHash: m.RecipeHash,
	}, nil
}
