package repotest

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/swarmtube/swarmtube/internal/testenv"
)

// TestNoSleepsInTests keeps the suite deterministic on a loaded machine
// (issue 13): a test never sleeps to wait for a condition. It waits on a
// channel or callback, on testenv.Eventually or Poll when nothing can say
// when, or runs in a testing/synctest bubble, where time is fake. A
// time.Sleep in a test file (or in internal/testenv) is accepted only
//   - inside the function given to synctest.Test, or directly before a
//     synctest.Wait() (a helper advancing a bubble's fake clock), or
//   - with a comment "// timed: <why>" on its line, for a sleep that is
//     the behaviour under test (a viewer paused 20 s, a socket left idle)
//     or an absence check (nothing may happen within a window), never a
//     wait for something to happen.
func TestNoSleepsInTests(t *testing.T) {
	root := testenv.RepoRoot(t)
	testenv.LookPath(t, "git")
	out, err := exec.Command("git", "-C", root, "ls-files", "--cached", "--others", "--exclude-standard", "*.go").Output()
	if err != nil {
		t.Fatalf("git ls-files: %v", err)
	}
	n := 0
	for _, name := range strings.Fields(string(out)) {
		if !strings.HasSuffix(name, "_test.go") && !strings.HasPrefix(name, "internal/testenv/") {
			continue
		}
		for _, pos := range untimedSleeps(t, filepath.Join(root, name)) {
			t.Errorf("%s:%d: time.Sleep waits for a condition: wait on a channel, testenv.Eventually, or synctest; or say why it is the behaviour under test with // timed: <why>", name, pos.Line)
		}
		n++
	}
	if n < 50 {
		t.Fatalf("checked only %d test files: is git listing the repository?", n)
	}
}

// untimedSleeps returns the positions of the time.Sleep calls in file that
// TestNoSleepsInTests does not accept.
func untimedSleeps(t *testing.T, file string) []token.Position {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, file, nil, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	timeName, synctestName := "", ""
	for _, im := range f.Imports {
		path, _ := strconv.Unquote(im.Path.Value)
		name := filepath.Base(path)
		if im.Name != nil {
			name = im.Name.Name
		}
		switch path {
		case "time":
			timeName = name
		case "testing/synctest":
			synctestName = name
		}
	}
	if timeName == "" {
		return nil
	}
	timed := map[int]bool{} // lines with a "// timed: <why>" comment
	for _, cg := range f.Comments {
		for _, c := range cg.List {
			if why, ok := strings.CutPrefix(c.Text, "// timed:"); ok && strings.TrimSpace(why) != "" {
				timed[fset.Position(c.Pos()).Line] = true
			}
		}
	}
	isCall := func(n ast.Node, pkg, fn string) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok || pkg == "" {
			return false
		}
		sel, ok := call.Fun.(*ast.SelectorExpr)
		if !ok || sel.Sel.Name != fn {
			return false
		}
		id, ok := sel.X.(*ast.Ident)
		return ok && id.Name == pkg
	}
	// Sleeps accepted by position: inside synctest.Test, or followed by
	// synctest.Wait() in the same block.
	fake := map[token.Pos]bool{}
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.CallExpr:
			if isCall(n, synctestName, "Test") {
				ast.Inspect(n, func(m ast.Node) bool {
					if isCall(m, timeName, "Sleep") {
						fake[m.Pos()] = true
					}
					return true
				})
			}
		case *ast.BlockStmt:
			for i, st := range n.List[:max(0, len(n.List)-1)] {
				es, ok := st.(*ast.ExprStmt)
				next, ok2 := n.List[i+1].(*ast.ExprStmt)
				if ok && ok2 && isCall(es.X, timeName, "Sleep") && isCall(next.X, synctestName, "Wait") {
					fake[es.X.Pos()] = true
				}
			}
		}
		return true
	})
	var bad []token.Position
	ast.Inspect(f, func(n ast.Node) bool {
		if isCall(n, timeName, "Sleep") && !fake[n.Pos()] {
			if pos := fset.Position(n.Pos()); !timed[pos.Line] {
				bad = append(bad, pos)
			}
		}
		return true
	})
	return bad
}
