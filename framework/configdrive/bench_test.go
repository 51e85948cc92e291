package configdrive_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/drivelab/drivelab/framework/config"
	"github.com/drivelab/drivelab/framework/configdrive"
	"github.com/drivelab/drivelab/framework/golden"
	"github.com/drivelab/drivelab/framework/render"
	"github.com/drivelab/drivelab/framework/testenv"
	"github.com/drivelab/drivelab/framework/topology"
)

// placeholderSize stands in for package files when the image cache has no
// real bundles: tens of MB, so streaming shows.
const placeholderSize = 32 << 20

// novaFlags are the flags nova passes genisoimage for a config drive.
var novaFlags = []string{"-ldots", "-allow-lowercase", "-allow-multidot", "-l", "-J", "-r", "-V", "config-2"}

// BenchmarkFourDrives builds the reference topology's four debian12 drives
// in process and with genisoimage from the same trees, and reports both
// (ms per four drives) and ours/genisoimage.
func BenchmarkFourDrives(b *testing.B) {
	genisoimage := testenv.Tool(b, "genisoimage")
	ctx := context.Background()
	topo, err := topology.Load(topologyFile)
	if err != nil {
		b.Fatal(err)
	}
	pkgs := benchPackages(b)
	rendered, err := render.Render(ctx, render.Input{Topology: topo, TemplatesDir: templatesDir, Flavor: "debian12", PackageDir: pkgs})
	if err != nil {
		b.Fatal(err)
	}
	drives := rendered.Drives
	trees := make([]string, len(drives))
	for i, d := range drives {
		trees[i] = layOut(b, d)
	}
	out := b.TempDir()

	var ours, theirs time.Duration
	n := 0
	for b.Loop() {
		start := time.Now()
		for _, d := range drives {
			if err := configdrive.Build(ctx, d, filepath.Join(out, d.Node.Name+".iso")); err != nil {
				b.Fatal(err)
			}
		}
		ours += time.Since(start)
		start = time.Now()
		for i, d := range drives {
			args := append([]string{"-quiet", "-o", filepath.Join(out, d.Node.Name+".genisoimage.iso")}, novaFlags...)
			if msg, err := exec.Command(genisoimage, append(args, trees[i])...).CombinedOutput(); err != nil {
				b.Fatalf("genisoimage: %v\n%s", err, msg)
			}
		}
		theirs += time.Since(start)
		n++
	}
	perOp := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 / float64(n) }
	b.ReportMetric(perOp(ours), "iso9660-ms/op")
	b.ReportMetric(perOp(theirs), "genisoimage-ms/op")
	b.ReportMetric(float64(ours)/float64(theirs), "ours/genisoimage")
}

// benchPackages returns the image build's real bundles when the cache holds
// them, else a folder of placeholders of placeholderSize.
func benchPackages(b *testing.B) string {
	env, _ := config.FromEnv() // a bad E2E_* value leaves the defaults
	dirs, _ := filepath.Glob(filepath.Join(env.Paths.Cache, "image", "*", "packages"))
	for _, dir := range dirs {
		if strings.HasPrefix(filepath.Base(filepath.Dir(dir)), ".") {
			continue // a build in progress
		}
		if exists(filepath.Join(dir, "haproxy.tar.gz")) && exists(filepath.Join(dir, "apache2.tar.gz")) {
			b.Logf("packages: the image cache's real bundles in %s", dir)
			return dir
		}
	}
	fl, err := render.LoadFlavor(templatesDir, "debian12")
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	if err := golden.PlaceholderPackages(dir, fl, placeholderSize); err != nil {
		b.Fatal(err)
	}
	b.Logf("packages: %d MiB placeholders (no bundles under %s)", placeholderSize>>20, env.Paths.Cache)
	return dir
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// layOut writes a drive as the directory tree genisoimage reads, package
// files hard-linked as a user preparing a tree would copy them.
func layOut(b *testing.B, d render.Drive) string {
	root := b.TempDir()
	for _, f := range d.Files() {
		p := filepath.Join(root, f.Path)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			b.Fatal(err)
		}
		var err error
		if f.Source != "" {
			err = os.Link(f.Source, p)
		} else {
			err = os.WriteFile(p, f.Data, 0o644)
		}
		if err != nil {
			b.Fatal(err)
		}
	}
	return root
}
