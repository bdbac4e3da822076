// Package repotest holds checks on the repository as a whole: every package
// is documented, and shared/ stays buildable for the browser by never
// importing server-only modules.
package repotest

import (
	"encoding/json"
	"io"
	"os/exec"
	"strings"
	"testing"

	"github.com/swarmtube/swarmtube/internal/testenv"
)

type pkg struct {
	ImportPath string
	Name       string
	Doc        string
	Deps       []string
	GoFiles    []string
}

func list(t *testing.T, env []string, patterns ...string) []pkg {
	t.Helper()
	cmd := exec.Command("go", append([]string{"list", "-json=ImportPath,Name,Doc,Deps,GoFiles"}, patterns...)...)
	cmd.Dir = testenv.RepoRoot(t)
	cmd.Env = append(cmd.Environ(), env...)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list %v: %v", patterns, err)
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	var pkgs []pkg
	for {
		var p pkg
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

func TestEveryPackageHasDoc(t *testing.T) {
	testenv.LookPath(t, "go")
	for _, p := range list(t, nil, "./...") {
		if p.Doc == "" && len(p.GoFiles) > 0 && p.Name != "main" && !strings.Contains(p.ImportPath, "/scripts/") {
			t.Errorf("package %s has no package doc comment", p.ImportPath)
		}
	}
}

// TestSharedStaysPortable keeps shared/ free of server-only modules, built
// as the browser builds it.
func TestSharedStaysPortable(t *testing.T) {
	testenv.LookPath(t, "go")
	banned := []string{"go.etcd.io/bbolt", "github.com/anacrolix/torrent", "github.com/swarmtube/swarmtube/server/", "github.com/swarmtube/swarmtube/wasm/", "os/signal", "testing"}
	for _, p := range list(t, []string{"GOOS=js", "GOARCH=wasm"}, "./shared/...") {
		for _, d := range p.Deps {
			for _, b := range banned {
				if d == strings.TrimSuffix(b, "/") || strings.HasPrefix(d, b) {
					t.Errorf("%s (GOOS=js) imports %s", p.ImportPath, d)
				}
			}
		}
	}
}
