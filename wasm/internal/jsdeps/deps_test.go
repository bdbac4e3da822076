//go:build !js

package jsdeps

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/swarmtube/swarmtube/internal/testenv"
)

func TestBrowserBuildDependencies(t *testing.T) {
	cmd := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}", "./wasm/...", "./shared/...")
	cmd.Dir = testenv.RepoRoot(t)
	cmd.Env = append(os.Environ(), "GOOS=js", "GOARCH=wasm")
	out, err := cmd.Output()
	if err != nil {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("go list: %v\n%s", err, stderr)
	}
	deny := []string{
		"testing", "net/http/pprof", "os/signal", "runtime/pprof",
		"go.etcd.io/bbolt", "github.com/gorilla/websocket",
	}
	denyPrefix := []string{
		"github.com/anacrolix/torrent", // the pod's seeder; the browser has its own engine
		"github.com/swarmtube/swarmtube/server/",
		"github.com/prometheus/",
		"github.com/tus/",
		"github.com/chromedp/",
	}
	for _, pkg := range strings.Fields(string(out)) {
		for _, d := range deny {
			if pkg == d {
				t.Errorf("browser build imports %s", pkg)
			}
		}
		for _, d := range denyPrefix {
			if strings.HasPrefix(pkg, d) {
				t.Errorf("browser build imports %s", pkg)
			}
		}
	}
}
