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
		changed[name].Data = append(changed[name].Data, []byte("\n# changed\n")...)
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
	for _, b := range bundles {
		if slices.Contains(r.packages, b) {
			t.Errorf("recipe/packages holds %s; it must travel only in its bundle", b)
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
