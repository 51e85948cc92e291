package harness

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/drivelab/drivelab/framework/golden"
	"github.com/drivelab/drivelab/framework/render"
	"github.com/drivelab/drivelab/framework/report"
)

// goldenDiffFile, in a run's artifacts folder, is how the drives of the
// run's templates differ from the golden listing (UpInput.Golden); the
// report page shows it. Only its header: they do not differ.
const goldenDiffFile = "golden.diff"

// writeGoldenDiff lists the drives in's templates give its topology the way
// `make golden` does (no run's keys, placeholder packages, private keys
// redacted) and writes their unified diff against in.Golden into dir, so
// that a run of changed templates shows what changed in its drives. It is
// a listing for people, not the run's drives: nothing built from it boots.
// Without in.Golden it writes nothing.
func writeGoldenDiff(ctx context.Context, in UpInput, dir string) error {
	if in.Golden == "" {
		return nil
	}
	want, err := os.ReadFile(in.Golden)
	if err != nil {
		return fmt.Errorf("golden listing: %w; make it with `make golden`, or leave UpInput.Golden empty", err)
	}
	fl, err := render.LoadFlavor(in.TemplatesDir, in.Flavor)
	if err != nil {
		return err
	}
	packages, err := os.MkdirTemp("", "drivelab-golden-packages-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(packages)
	if err := golden.PlaceholderPackages(packages, fl, 0); err != nil {
		return err
	}
	got, err := golden.Listing(ctx, render.Input{
		Topology: in.Topology, TemplatesDir: in.TemplatesDir, Flavor: in.Flavor, Overlay: in.Overlay, PackageDir: packages,
	})
	if err != nil {
		return fmt.Errorf("listing the drives for %s: %w", in.Golden, err)
	}
	diff := golden.Diff(in.Golden, "the drives of this run's templates", string(want), string(got))
	return os.WriteFile(filepath.Join(dir, goldenDiffFile), []byte(diff), 0o644)
}

// readGoldenDiff is the diff writeGoldenDiff wrote at path, or nil.
func readGoldenDiff(path string) *report.Diff {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	from, rest, _ := strings.Cut(string(b), "\n")
	_, hunks, _ := strings.Cut(rest, "\n") // the "+++" line
	return &report.Diff{Against: strings.TrimPrefix(from, "--- "), Text: hunks}
}
