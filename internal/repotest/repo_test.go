// Package repotest holds checks on the repository as a whole: every package
// is documented, shared/ stays buildable for the browser by never importing
// server-only modules, and the three sides keep their layout (TestLayout).
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

const module = "github.com/swarmtube/swarmtube/"

// TestLayout enforces where packages live, both ways:
//   - shared/ holds only what both sides compile: each of its packages is a
//     dependency of the pod binary and of the browser peer (GOOS=js);
//   - the pod never imports wasm/, and the browser peer never imports server/.
func TestLayout(t *testing.T) {
	testenv.LookPath(t, "go")
	js := []string{"GOOS=js", "GOARCH=wasm"}
	deps := func(env []string, patterns ...string) map[string]bool {
		set := map[string]bool{}
		for _, p := range list(t, env, patterns...) {
			set[p.ImportPath] = true
			for _, d := range p.Deps {
				set[d] = true
			}
		}
		return set
	}
	pod := deps(nil, "./server/cmd/swarmtube")
	browser := deps(js, "./wasm/cmd/client")
	for _, p := range list(t, js, "./shared/...") {
		if !pod[p.ImportPath] {
			t.Errorf("%s is in shared/ but the pod does not compile it: move it under wasm/", p.ImportPath)
		}
		if !browser[p.ImportPath] {
			t.Errorf("%s is in shared/ but the browser peer does not compile it: move it under server/", p.ImportPath)
		}
	}
	for d := range deps(nil, "./server/...") {
		if strings.HasPrefix(d, module+"wasm/") {
			t.Errorf("a server package imports %s", d)
		}
	}
	for d := range deps(js, "./wasm/...") {
		if strings.HasPrefix(d, module+"server/") {
			t.Errorf("a wasm package imports %s", d)
		}
	}
}
