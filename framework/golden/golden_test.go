package golden_test

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/drivelab/drivelab/framework/golden"
	"github.com/drivelab/drivelab/framework/render"
	"github.com/drivelab/drivelab/framework/testenv"
	"github.com/drivelab/drivelab/framework/topology"
)

var update = flag.Bool("update", false, "rewrite fixtures/golden/<flavor>.txt from the current templates (make golden)")

const (
	templatesDir = "../../fixtures/templates"
	goldenDir    = "../../fixtures/golden"
)

// listing renders the reference topology with the flavor's templates from dir.
func listing(t *testing.T, dir, flavor string) []byte {
	t.Helper()
	topo, err := topology.Load("../../fixtures/topology.yaml")
	if err != nil {
		t.Fatal(err)
	}
	fl, err := render.LoadFlavor(dir, flavor)
	if err != nil {
		t.Fatal(err)
	}
	pkgs := t.TempDir()
	if err := golden.PlaceholderPackages(pkgs, fl, 0); err != nil {
		t.Fatal(err)
	}
	got, err := golden.Listing(context.Background(), render.Input{Topology: topo, TemplatesDir: dir, Flavor: flavor, PackageDir: pkgs})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func flavors(t *testing.T) []string {
	t.Helper()
	matches, err := filepath.Glob(filepath.Join(templatesDir, "*", render.FlavorFile))
	if err != nil || len(matches) == 0 {
		t.Fatalf("no flavors in %s: %v", templatesDir, err)
	}
	var names []string
	for _, m := range matches {
		names = append(names, filepath.Base(filepath.Dir(m)))
	}
	return names
}

// TestGoldenListings compares every flavor's drives with its checked-in listing.
func TestGoldenListings(t *testing.T) {
	for _, flavor := range flavors(t) {
		t.Run(flavor, func(t *testing.T) {
			got := listing(t, templatesDir, flavor)
			file := filepath.Join(goldenDir, flavor+".txt")
			if *update {
				if err := golden.Update(file, got); err != nil {
					t.Fatal(err)
				}
				t.Logf("wrote %s", file)
				return
			}
			if err := golden.Compare(file, got); err != nil {
				t.Error(err)
			}
		})
	}
}

// One changed template line must fail the comparison with a diff showing that line.
func TestOneChangedTemplateLineShowsInTheDiff(t *testing.T) {
	if *update {
		testenv.Skip(t, "-update rewrites the listings; this test compares against them")
	}
	dir := t.TempDir()
	if err := os.CopyFS(filepath.Join(dir, "debian12"), os.DirFS(filepath.Join(templatesDir, "debian12"))); err != nil {
		t.Fatal(err)
	}
	page := filepath.Join(dir, "debian12", "index.html.tmpl")
	if err := os.WriteFile(page, []byte("Hello from {{.Node.FQDN}} !\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	err := golden.Compare(filepath.Join(goldenDir, "debian12.txt"), listing(t, dir, "debian12"))
	if err == nil {
		t.Fatal("a changed index.html.tmpl line compared equal to the golden listing")
	}
	for _, want := range []string{
		"make golden",
		"-    |Greetings from web01.cloud.org !",
		"+    |Hello from web01.cloud.org !",
		"-    |Greetings from web02.cloud.org !",
		"+    |Hello from web02.cloud.org !",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("diff lacks %q:\n%v", want, err)
		}
	}
}

// A template that carries a private key lists the drive without it: the
// listing is checked in, and the report page shows it.
func TestListingRedactsPrivateKeys(t *testing.T) {
	dir := t.TempDir()
	if err := os.CopyFS(filepath.Join(dir, "debian12"), os.DirFS(filepath.Join(templatesDir, "debian12"))); err != nil {
		t.Fatal(err)
	}
	const secret = "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZWQyNTUxOQ"
	key := "-----BEGIN OPENSSH PRIVATE KEY-----\n" + secret + "\n-----END OPENSSH PRIVATE KEY-----\n"
	if err := os.WriteFile(filepath.Join(dir, "debian12", "index.html.tmpl"), []byte(key), 0o644); err != nil {
		t.Fatal(err)
	}
	got := string(listing(t, dir, "debian12"))
	if strings.Contains(got, secret) || !strings.Contains(got, render.RedactedKey) {
		t.Errorf("the listing shows the private key, or does not say it was redacted:\n%s", got)
	}
}

func TestDiffIsUnified(t *testing.T) {
	a := "1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\n12\n13\n14\n"
	b := "1\n2\n3\n4\n5\nsix\n7\n8\n9\n10\n11\n12\n13\n14\n15\n"
	want := `--- a
+++ b
@@ -3,7 +3,7 @@
 3
 4
 5
-6
+six
 7
 8
 9
@@ -12,3 +12,4 @@
 12
 13
 14
+15
`
	if got := golden.Diff("a", "b", a, b); got != want {
		t.Errorf("Diff =\n%s\nwant\n%s", got, want)
	}
	if err := golden.Compare(writeTemp(t, a), []byte(a)); err != nil {
		t.Errorf("equal texts: %v", err)
	}
	if err := golden.Compare(writeTemp(t, a), []byte(b)); err == nil || !strings.Contains(err.Error(), "+six") {
		t.Errorf("different texts: %v", err)
	}
}

func writeTemp(t *testing.T, s string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "listing.txt")
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}
