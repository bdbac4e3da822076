package e2e_test

import (
	"bufio"
	"context"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/swarmtube/swarmtube/internal/testenv"
)

// TestHeadlessScreenshotCommand runs the README's command for a screenshot
// of a watch page (Troubleshooting), as written there, against a pod with
// a video: it must write the picture. The newcomer's command with
// --virtual-time-budget wrote none, because the page's stream through the
// Service Worker is a fetch that stays open and virtual time waits for
// every fetch (issue 17); the README says so and gives this one instead.
func TestHeadlessScreenshotCommand(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join(testenv.RepoRoot(t), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	var line string
	for sc := bufio.NewScanner(strings.NewReader(string(readme))); sc.Scan(); {
		if l := sc.Text(); strings.HasPrefix(l, "chromium --headless ") && strings.Contains(l, "--screenshot=watch.png") {
			line = l
		}
	}
	if line == "" || strings.Contains(line, "virtual-time-budget") {
		t.Fatalf("the README's Troubleshooting gives no working screenshot command: %q", line)
	}
	p := startPod(t, "screenshot.example")
	requireVideos(t, p)
	id := uploadMultipart(t, p.URL, apiLogin(t, p.URL, "admin", adminPassword), makeClip(t, 2), "Headless", "")

	args := strings.Fields(strings.NewReplacer("http://127.0.0.1:9000", p.URL, "<id>", id).Replace(line))
	dir := t.TempDir()
	args = append(args[1:], "--no-sandbox", "--user-data-dir="+filepath.Join(dir, "profile")) // the README says: as root
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, testenv.Chromium(t), args...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", line, err, out)
	}
	f, err := os.Open(filepath.Join(dir, "watch.png"))
	if err != nil {
		t.Fatalf("%s wrote no picture: %v", line, err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() != 1280 || b.Dy() != 800 {
		t.Errorf("picture of %v, want 1280×800", b)
	}
}
