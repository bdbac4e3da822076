package httpx

import (
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

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
