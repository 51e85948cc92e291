package image

import (
	"io/fs"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
)

// copyRecipe returns the embedded recipe as a map the test can change.
func copyRecipe(t *testing.T) fstest.MapFS {
	t.Helper()
	m := fstest.MapFS{}
	err := fs.WalkDir(recipeFiles, "recipe", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(recipeFiles, p)
		m[p] = &fstest.MapFile{Data: b, Mode: 0o644}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestRecipeHashChangesWithEveryFile(t *testing.T) {
	base, err := loadRecipe(copyRecipe(t))
	if err != nil {
		t.Fatal(err)
	}
	embedded, err := currentRecipe()
	if err != nil {
		t.Fatal(err)
	}
	if base.hash != embedded.hash {
		t.Fatalf("a copy of the recipe hashes to %s, the embedded one to %s", base.hash, embedded.hash)
	}
	files := copyRecipe(t)
	if len(files) < 5 {
		t.Fatalf("the embedded recipe has %d files; expected packages, cmdline, hooks and overlay", len(files))
	}
	for name := range files {
		changed := copyRecipe(t)
		change := "\n# changed\n"
		if name == bundlesFile {
			change = "\nnginx\n" // its comments are not the key, its list is
		}
		changed[name].Data = append(changed[name].Data, []byte(change)...)
		r, err := loadRecipe(changed)
		if err != nil {
			t.Fatal(err)
		}
		if r.hash == base.hash {
			t.Errorf("changing %s does not change the recipe hash: the cache would serve a stale image", name)
		}
	}
	added := copyRecipe(t)
	added["recipe/overlay/etc/new.conf"] = &fstest.MapFile{Data: []byte("x")}
	if r, _ := loadRecipe(added); r.hash == base.hash {
		t.Error("adding an overlay file does not change the recipe hash")
	}
}

func TestRecipeContract(t *testing.T) {
	r, err := currentRecipe()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"cloud-init", "openssh-server", "linux-image-cloud-amd64", "systemd",
		"curl", "iproute2", "iputils-ping", "python3"} {
		if !slices.Contains(r.packages, p) {
			t.Errorf("recipe/packages lacks %s, which the brief's contract requires", p)
		}
	}
	for _, want := range []string{"root=/dev/vda", "console=ttyS0", "net.ifnames=0"} {
		if !slices.Contains(strings.Fields(r.cmdline), want) {
			t.Errorf("cmdline %q lacks %s", r.cmdline, want)
		}
	}
	if len(r.key()) != len("debian12-")+16 || !strings.HasPrefix(r.key(), "debian12-") {
		t.Errorf("cache key %q", r.key())
	}
}

// The bundles are the recipe's data: recipe/bundles names them, the build,
// the cache lookup and the artifacts follow it, and a bundle that the image
// also installs is refused.
func TestRecipeBundlesAreData(t *testing.T) {
	base, err := loadRecipe(copyRecipe(t))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(base.bundles, []string{"haproxy", "apache2"}) {
		t.Fatalf("bundles %q, want recipe/bundles' haproxy and apache2", base.bundles)
	}
	other := copyRecipe(t)
	other[bundlesFile].Data = []byte("# one bundle\nnginx\n")
	r, err := loadRecipe(other)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(r.bundles, []string{"nginx"}) || !slices.Equal(r.bundleFiles(), []string{"nginx.tar.gz"}) || r.hash == base.hash {
		t.Errorf("recipe/bundles naming nginx gives bundles %q, files %q, same hash %v", r.bundles, r.bundleFiles(), r.hash == base.hash)
	}
	comment := copyRecipe(t)
	comment[bundlesFile].Data = append([]byte("# reworded\n"), comment[bundlesFile].Data...)
	if r, err := loadRecipe(comment); err != nil || r.hash != base.hash {
		t.Errorf("a comment in recipe/bundles changed the cache key (%v)", err)
	}
	both := copyRecipe(t)
	both["recipe/packages"].Data = append(both["recipe/packages"].Data, []byte("\napache2\n")...)
	if _, err := loadRecipe(both); err == nil || !strings.Contains(err.Error(), "apache2 is both in recipe/packages and in recipe/bundles") {
		t.Errorf("a bundle the image installs too: %v", err)
	}
	missing := copyRecipe(t)
	delete(missing, bundlesFile)
	if _, err := loadRecipe(missing); err == nil || !strings.Contains(err.Error(), bundlesFile) {
		t.Errorf("no recipe/bundles: %v", err)
	}
}

func TestRecipeNeedsPackagesAndCmdline(t *testing.T) {
	for _, name := range []string{"recipe/packages", "recipe/cmdline"} {
		m := copyRecipe(t)
		m[name].Data = []byte("# only a comment\n\n")
		if _, err := loadRecipe(m); err == nil || !strings.Contains(err.Error(), "must not be empty") {
			t.Errorf("an empty %s gives %v, want an error", name, err)
		}
	}
}

func TestRecipeLines(t *testing.T) {
	got := recipeLines([]byte("# head\n\ncurl  # tools\n  iproute2\n#x\n"))
	if want := []string{"curl", "iproute2"}; !slices.Equal(got, want) {
		t.Errorf("recipeLines = %q, want %q", got, want)
	}
}
