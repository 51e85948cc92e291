package image

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
)

// recipeFiles is everything the image is made of besides the constants below:
// the package list, the kernel command line, the customize hook, the masked
// units and the overlay copied into the root. The cache key hashes all of it.
//
//go:embed recipe
var recipeFiles embed.FS

const (
	// builderVersion changes whenever the Go build steps change what they
	// produce, so a new harness never takes an old build for its own.
	builderVersion = 1
	suite          = "bookworm"
	flavor         = "debian12"
	// diskSize is the root filesystem's size: the system uses about 0.5 GiB,
	// the rest is room for the bundles' dpkg -i and the checks.
	diskSize = "2G"
)

// bundlesFile lists the package bundles the build produces, by name: each
// becomes PackageDir/<name>.tar.gz, resolved against the image itself.
const bundlesFile = "recipe/bundles"

// recipe is the parsed, hashed recipe.
type recipe struct {
	hash     string
	packages []string
	bundles  []string
	cmdline  string
}

// bundleFiles are the bundles' file names in a build's package directory.
func (r recipe) bundleFiles() []string {
	files := make([]string, len(r.bundles))
	for i, name := range r.bundles {
		files[i] = name + ".tar.gz"
	}
	return files
}

// key names the cache directory of a build of this recipe.
func (r recipe) key() string { return flavor + "-" + r.hash[:16] }

// currentRecipe is computed once: it only depends on the binary.
var currentRecipe = sync.OnceValues(func() (recipe, error) { return loadRecipe(recipeFiles) })

func loadRecipe(fsys fs.FS) (recipe, error) {
	b, err := fs.ReadFile(fsys, bundlesFile)
	if err != nil {
		return recipe{}, fmt.Errorf("image recipe: %w", err)
	}
	bundles := recipeLines(b)
	h := sha256.New()
	// The bundles enter the hash as this list, as they did when they were
	// written in Go, and their file is left out of the walk below: builds
	// cached before the list became a file keep their key.
	fmt.Fprintf(h, "builder=%d\nsuite=%s\nflavor=%s\ndisk=%s\nbundles=%s\n",
		builderVersion, suite, flavor, diskSize, strings.Join(bundles, ","))
	err = fs.WalkDir(fsys, "recipe", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || p == bundlesFile {
			return err
		}
		b, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		fmt.Fprintf(h, "%s\x00%d\x00", p, len(b))
		h.Write(b)
		return nil
	})
	if err != nil {
		return recipe{}, fmt.Errorf("reading the embedded image recipe: %w", err)
	}
	r := recipe{hash: hex.EncodeToString(h.Sum(nil)), bundles: bundles}
	b, err = fs.ReadFile(fsys, "recipe/packages")
	if err != nil {
		return recipe{}, err
	}
	r.packages = recipeLines(b)
	b, err = fs.ReadFile(fsys, "recipe/cmdline")
	if err != nil {
		return recipe{}, err
	}
	r.cmdline = strings.Join(recipeLines(b), " ")
	if len(r.packages) == 0 || r.cmdline == "" {
		return recipe{}, fmt.Errorf("image recipe: recipe/packages and recipe/cmdline must not be empty")
	}
	for _, name := range r.bundles {
		if slices.Contains(r.packages, name) {
			return recipe{}, fmt.Errorf("image recipe: %s is both in recipe/packages and in %s; a bundle travels only on the drives: remove it from recipe/packages", name, bundlesFile)
		}
	}
	return r, nil
}

// recipeLines returns the non-empty lines of a recipe list, without comments.
func recipeLines(b []byte) []string {
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line, _, _ := strings.Cut(sc.Text(), "#")
		if line = strings.TrimSpace(line); line != "" {
			out = append(out, line)
		}
	}
	return out
}

// writeRecipe copies the recipe tree into dir, for mmdebstrap's hooks.
func writeRecipe(fsys fs.FS, dir string) error {
	return fs.WalkDir(fsys, "recipe", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		dst := filepath.Join(dir, filepath.FromSlash(strings.TrimPrefix(p, "recipe")))
		if d.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		b, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		// Scripts (hooks) must be executable; a shebang says which files are.
		mode := os.FileMode(0o644)
		if bytes.HasPrefix(b, []byte("#!")) {
			mode = 0o755
		}
		return os.WriteFile(dst, b, mode)
	})
}
