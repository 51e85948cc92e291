package harness_test

import (
	"bytes"
	"context"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/drivelab/drivelab/framework/harness"
	"github.com/drivelab/drivelab/framework/testenv"
)

// The report page of a failed run in a real browser, Debian's Chromium
// headless (make test installs it), as someone opening the uploaded
// artifact sees it: it draws (a screenshot that is not blank, the red of
// the verdict at the top), and the verdict and the first failure's message
// are on the first screen of 1280x900.
func TestReportPageInABrowser(t *testing.T) {
	chromium := testenv.Tool(t, "chromium")
	dir := t.TempDir()
	path, err := harness.WriteHTMLReport(dir, "run test", []harness.Outcome{checkFailureOutcome(t, dir)})
	if err != nil {
		t.Fatal(err)
	}

	shot := filepath.Join(t.TempDir(), "screen.png")
	browse(t, chromium, "--screenshot="+shot, "file://"+path)
	f, err := os.Open(shot)
	if err != nil {
		t.Fatalf("chromium left no screenshot: %v", err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("%s: %v", shot, err)
	}
	if b := img.Bounds(); b.Dx() != 1280 || b.Dy() != 900 {
		t.Errorf("the screenshot is %dx%d, want the window's 1280x900", b.Dx(), b.Dy())
	}
	if n := colours(img, img.Bounds()); n < 8 {
		t.Errorf("the screenshot has %d colours: the page drew (next to) nothing", n)
	}
	// The header's FAIL red (#c62828), across the top of the screen.
	if !has(img, image.Rect(0, 0, 1280, 60), 0xc6, 0x28, 0x28) {
		t.Error("the top of the screen is not the failed run's red")
	}

	// Where things are drawn: a copy of the page with a script that writes
	// the positions into the DOM, which --dump-dom prints. The page itself
	// runs no script.
	measured := filepath.Join(dir, "measured.html")
	page, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	page = bytes.Replace(page, []byte("</body>"), []byte(measure+"</body>"), 1)
	if err := os.WriteFile(measured, page, 0o644); err != nil {
		t.Fatal(err)
	}
	doc, err := html.Parse(strings.NewReader(browse(t, chromium, "--dump-dom", "file://"+measured)))
	if err != nil {
		t.Fatal(err)
	}
	if got := text(find(doc, byID("verdict"))); got != "FAIL" {
		t.Errorf("the browser's verdict reads %q, want FAIL", got)
	}
	if got := text(find(doc, byID("fail-loadbalancer-web02-hostname"))); !strings.Contains(got, hostnameFailure) {
		t.Errorf("the browser's first failure reads %q, want %q", got, hostnameFailure)
	}
	body := find(doc, tag("body"))
	for _, pos := range []string{"data-verdict-bottom", "data-failure-top"} {
		px, err := strconv.Atoi(attr(body, pos))
		if err != nil || px < 0 || px > 900-20 {
			t.Errorf("%s = %q: not on the first screen (900 px high)", pos, attr(body, pos))
		}
	}
}

// measure writes where the verdict ends and the first failure's message
// begins, in pixels from the top, into the body's attributes.
const measure = `<script>
const px = (selector, edge) => {
  const e = document.querySelector(selector);
  return e ? String(Math.round(e.getBoundingClientRect()[edge])) : "missing " + selector;
};
document.body.setAttribute("data-verdict-bottom", px("#verdict", "bottom"));
document.body.setAttribute("data-failure-top", px(".failures li pre", "top"));
</script>`

// browse runs headless Chromium on a page and returns what it printed.
func browse(t *testing.T, chromium string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	args = append([]string{"--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
		"--user-data-dir=" + t.TempDir(), "--window-size=1280,900"}, args...)
	cmd := exec.CommandContext(ctx, chromium, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String()
}

// colours counts the distinct colours in r.
func colours(img image.Image, r image.Rectangle) int {
	seen := map[[4]uint32]bool{}
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			r, g, b, a := img.At(x, y).RGBA()
			seen[[4]uint32{r, g, b, a}] = true
		}
	}
	return len(seen)
}

// has reports whether r holds a pixel of colour (red, green, blue), give
// or take a little for the browser's colour handling.
func has(img image.Image, r image.Rectangle, red, green, blue uint8) bool {
	near := func(a uint32, b uint8) bool { d := int(a>>8) - int(b); return d > -4 && d < 4 }
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			r, g, b, _ := img.At(x, y).RGBA()
			if near(r, red) && near(g, green) && near(b, blue) {
				return true
			}
		}
	}
	return false
}
