package repotest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/swarmtube/swarmtube/internal/testenv"
)

// TestBuildWasmSkipsUnchanged: `make build` with nothing changed does
// nothing costly (issue 17 item 19: it recompressed the wasm with brotli
// -q 11, about 25 s, every time). scripts/build-wasm.sh, which `make wasm`
// runs, builds into a scratch directory twice: the second run finds the
// same bytes and leaves the compressed copies as they were.
func TestBuildWasmSkipsUnchanged(t *testing.T) {
	testenv.LookPath(t, "go", "gzip", "brotli")
	root := testenv.RepoRoot(t)
	out := t.TempDir()
	run := func() string {
		t.Helper()
		cmd := exec.Command(filepath.Join(root, "scripts", "build-wasm.sh"), out)
		cmd.Dir = root
		b, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("build-wasm.sh: %v\n%s", err, b)
		}
		return string(b)
	}
	first := run()
	stamps := map[string]time.Time{}
	for _, name := range []string{"client.wasm", "client.wasm.gz", "client.wasm.br"} {
		fi, err := os.Stat(filepath.Join(out, name))
		if err != nil {
			t.Fatalf("the first build made no %s: %v\n%s", name, err, first)
		}
		stamps[name] = fi.ModTime()
	}
	second := run()
	if !strings.Contains(second, "client.wasm is up to date") {
		t.Errorf("the second build did not find the wasm up to date:\n%s", second)
	}
	for name, was := range stamps {
		if fi, err := os.Stat(filepath.Join(out, name)); err != nil || !fi.ModTime().Equal(was) {
			t.Errorf("%s was rewritten by a build with nothing changed", name)
		}
	}
}
