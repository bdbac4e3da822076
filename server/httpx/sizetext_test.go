package httpx

import (
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/swarmtube/swarmtube/internal/testenv"
)

// TestSizeTextMatchesPages: the pod's messages and the pages write sizes
// in one unit, the same way (issue 17 item 8: "--max-upload-mb 5" was
// "(5 MiB)" in the API and "5.2 MB" on the page). The pages' formatBytes
// runs in node on the same table.
func TestSizeTextMatchesPages(t *testing.T) {
	sizes := []int64{0, 1, 512, 1023, 1024, 1536, 5 << 20, 4096 << 20, 10<<20 + 1, 1 << 40, 3 << 50}
	node := testenv.LookPath(t, "node")
	ui := filepath.Join(testenv.RepoRoot(t), "web", "static", "js", "ui.js")
	in, _ := json.Marshal(sizes)
	script := `import { formatBytes } from ` + jsString(ui) + `; console.log(JSON.stringify(` + string(in) + `.map(formatBytes)));`
	out, err := exec.Command(node, "--input-type=module", "-e", script).CombinedOutput()
	if err != nil {
		t.Fatalf("node: %v: %s", err, out)
	}
	var js []string
	if err := json.Unmarshal(out, &js); err != nil {
		t.Fatalf("node output %q: %v", out, err)
	}
	for i, n := range sizes {
		if got := SizeText(n); got != js[i] {
			t.Errorf("%d bytes: the pod says %q, the pages %q", n, got, js[i])
		}
	}
	if got := SizeText(5 << 20); got != "5 MiB" {
		t.Errorf("SizeText(5 MiB) = %q", got)
	}
}

func jsString(s string) string {
	b, _ := json.Marshal(s)
	return strings.ReplaceAll(string(b), "'", `\'`)
}

// TestDurationAndCountText: durations and counts in people's words, never
// "1 seconds" (a login throttled for one second said so).
func TestDurationAndCountText(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0:                                       "0 seconds",
		time.Millisecond:                        "1 second",
		time.Second:                             "1 second",
		1500 * time.Millisecond:                 "2 seconds",
		45 * time.Second:                        "45 seconds",
		60 * time.Second:                        "1 minute",
		90 * time.Second:                        "1 minute 30 seconds",
		15 * time.Minute:                        "15 minutes",
		time.Hour + 5*time.Minute + time.Second: "1 hour 5 minutes",
		time.Hour + 5*time.Second:               "1 hour",
		49 * time.Hour:                          "2 days 1 hour",
	} {
		if got := DurationText(d); got != want {
			t.Errorf("DurationText(%v) = %q, want %q", d, got, want)
		}
	}
	for _, tc := range []struct {
		n          int64
		noun, want string
	}{{0, "video", "0 videos"}, {1, "video", "1 video"}, {2, "page", "2 pages"}, {1, "entry", "1 entry"}} {
		if got := Count(tc.n, tc.noun); got != tc.want {
			t.Errorf("Count(%d, %q) = %q, want %q", tc.n, tc.noun, got, tc.want)
		}
	}
	if got := Count(3, "entry", "entries"); got != "3 entries" {
		t.Errorf("Count(3, entry, entries) = %q", got)
	}
}
