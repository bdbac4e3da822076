package repotest

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/swarmtube/swarmtube/internal/testenv"
)

// timedKinds are the reasons a test may sleep, the word after "// timed:".
// A wait for something to happen (a page to settle, a request to be on its
// way, goroutines to go idle) is none of them: it passes on an idle
// machine and fails on a loaded one, and there is an event to wait on
// instead.
var timedKinds = map[string]string{
	"behaviour": "the sleep is what is tested: a viewer paused 20 s, a body trickling, a socket left silent",
	"absence":   "nothing may happen within the window; a longer window only makes the check stricter",
	"scenario":  "the spacing of a measured scenario or benchmark: viewers arriving 2 s apart, one sample a second",
}

// TestNoSleepsInTests keeps the suite deterministic on a loaded machine
// (issue 13): a test never sleeps to wait for a condition. It waits on a
// channel or callback, on testenv.Eventually or Poll when nothing can say
// when, or runs in a testing/synctest bubble, where time is fake.
//
// It reads every _test.go file and every file of a test-support package (a
// package whose non-test files import "testing": internal/testenv,
// internal/chromium, internal/netlab, ...), and counts as a sleep
// time.Sleep, chromedp.Sleep, a bare <-time.After(d), a select whose only
// case is <-time.After(d), and the page-side sleep of the browser tests
// (a Promise resolved by setTimeout, in a Go string evaluated by Chromium).
// A sleep is accepted only
//   - inside the function given to synctest.Test, or directly before a
//     synctest.Wait() (a helper advancing a bubble's fake clock), or
//   - with a comment "// timed: <kind>: <why>" on its line, where kind is
//     one of timedKinds, never for a wait for something to happen.
func TestNoSleepsInTests(t *testing.T) {
	root := testenv.RepoRoot(t)
	testenv.LookPath(t, "git")
	out, err := exec.Command("git", "-C", root, "ls-files", "--cached", "--others", "--exclude-standard", "*.go").Output()
	if err != nil {
		t.Fatalf("git ls-files: %v", err)
	}
	names := strings.Fields(string(out))
	n := 0
	for _, name := range testFiles(t, root, names) {
		for _, s := range untimedSleeps(t, filepath.Join(root, name)) {
			t.Errorf("%s:%d: %s", name, s.pos.Line, s.problem)
		}
		n++
	}
	if n < 50 {
		t.Fatalf("checked only %d test files: is git listing the repository?", n)
	}
}

// testFiles returns the _test.go files among names, and all the Go files
// of the directories whose non-test files import "testing" (the helpers
// the tests run, which sleep on their behalf).
func testFiles(t *testing.T, root string, names []string) []string {
	support := map[string]bool{}
	for _, name := range names {
		if strings.HasSuffix(name, "_test.go") || support[path.Dir(name)] {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), filepath.Join(root, name), nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		if slices.ContainsFunc(f.Imports, func(im *ast.ImportSpec) bool { return im.Path.Value == `"testing"` }) {
			support[path.Dir(name)] = true
		}
	}
	var files []string
	for _, name := range names {
		if strings.HasSuffix(name, "_test.go") || support[path.Dir(name)] {
			files = append(files, name)
		}
	}
	return files
}

// jsSleep is a page-side sleep: a Promise resolved by a timer,
// `new Promise((r) => setTimeout(r, 300))`.
var jsSleep = regexp.MustCompile(`new Promise\(\s*\(?\s*(\w+)\s*\)?\s*=>\s*\{?\s*setTimeout\(\s*(\w+)\s*,`)

// A sleep is one sleep that TestNoSleepsInTests does not accept.
type sleep struct {
	pos     token.Position
	problem string
}

// untimedSleeps returns the sleeps in file that TestNoSleepsInTests does
// not accept.
func untimedSleeps(t *testing.T, file string) []sleep {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, file, nil, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]string{} // import path → local name
	for _, im := range f.Imports {
		p, _ := strconv.Unquote(im.Path.Value)
		name := path.Base(p)
		if im.Name != nil {
			name = im.Name.Name
		}
		names[p] = name
	}
	timeName, synctestName, chromedpName := names["time"], names["testing/synctest"], names["github.com/chromedp/chromedp"]
	timed := map[int]string{} // line → what is wrong with its "// timed:" comment ("" if nothing)
	for _, cg := range f.Comments {
		for _, c := range cg.List {
			if problem, ok := timedComment(c.Text); ok {
				timed[fset.Position(c.Pos()).Line] = problem
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
	isAfter := func(e ast.Expr) bool {
		u, ok := e.(*ast.UnaryExpr)
		return ok && u.Op == token.ARROW && isCall(u.X, timeName, "After")
	}
	// Sleeps accepted by position: inside synctest.Test, or followed by
	// synctest.Wait() in the same block.
	fake := map[token.Pos]bool{}
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.CallExpr:
			if isCall(n, synctestName, "Test") {
				ast.Inspect(n, func(m ast.Node) bool {
					if m != nil {
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
	comm := map[ast.Stmt]bool{} // a select's cases: a timeout beside others is no sleep
	ast.Inspect(f, func(n ast.Node) bool {
		if cc, ok := n.(*ast.CommClause); ok && cc.Comm != nil {
			comm[cc.Comm] = true
		}
		return true
	})
	var bad []sleep
	report := func(p token.Position, what, problem string, ok bool) {
		switch {
		case !ok:
			bad = append(bad, sleep{p, what + " waits for a condition: wait on a channel, an event, testenv.Eventually, or synctest; or, if the sleep is itself the behaviour under test, an absence check or a measured scenario's spacing, say so with // timed: <behaviour|absence|scenario>: <why>"})
		case problem != "":
			bad = append(bad, sleep{p, what + ": its comment " + problem})
		}
	}
	check := func(pos token.Pos, what string) {
		if !fake[pos] {
			p := fset.Position(pos)
			problem, ok := timed[p.Line]
			report(p, what, problem, ok)
		}
	}
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.CallExpr:
			if isCall(n, timeName, "Sleep") || isCall(n, chromedpName, "Sleep") {
				check(n.Pos(), "a sleep")
			}
		case *ast.ExprStmt:
			if isAfter(n.X) && !comm[n] {
				check(n.Pos(), "a bare <-time.After")
			}
		case *ast.SelectStmt:
			if l := n.Body.List; len(l) == 1 {
				if cc, ok := l[0].(*ast.CommClause); ok {
					if es, ok := cc.Comm.(*ast.ExprStmt); ok && isAfter(es.X) {
						check(n.Pos(), "a select on <-time.After alone")
					}
				}
			}
		case *ast.BasicLit:
			if n.Kind != token.STRING {
				break
			}
			s, err := strconv.Unquote(n.Value)
			if err != nil {
				break
			}
			// A page-side sleep says why in a JavaScript comment on its line.
			for _, m := range jsSleep.FindAllStringSubmatchIndex(s, -1) {
				if s[m[2]:m[3]] != s[m[4]:m[5]] || fake[n.Pos()] {
					continue // a timer that calls something else than the resolver
				}
				p := fset.Position(n.Pos())
				if n.Value[0] == '`' { // a raw string: the line of the match
					p = fset.Position(n.Pos() + token.Pos(1+m[0]))
				}
				line := s[strings.LastIndex(s[:m[0]], "\n")+1:]
				line, _, _ = strings.Cut(line, "\n")
				problem, ok := "", false
				if i := strings.Index(line, "// timed:"); i >= 0 {
					problem, ok = timedComment(line[i:])
				}
				report(p, "a page-side sleep (a Promise resolved by setTimeout)", problem, ok)
			}
		}
		return true
	})
	return bad
}

// timedComment reports whether text is a "// timed: <kind>: <why>"
// comment, and what is wrong with it ("" if nothing).
func timedComment(text string) (problem string, ok bool) {
	rest, ok := strings.CutPrefix(text, "// timed:")
	if !ok {
		return "", false
	}
	kind, why, _ := strings.Cut(strings.TrimSpace(rest), ":")
	if _, known := timedKinds[kind]; !known {
		if f := strings.Fields(kind); len(f) > 3 {
			kind = strings.Join(f[:3], " ") + " …"
		}
		return fmt.Sprintf("says %q: the kind must be behaviour, absence or scenario (a wait for something to happen is none of them)", "timed: "+kind), true
	}
	if strings.TrimSpace(why) == "" {
		return fmt.Sprintf("says %q without why", "timed: "+kind), true
	}
	return "", true
}

// TestUntimedSleeps: each way a test can sleep is found, and only the
// accepted ones pass: the escapes of issue 13 (a free-form "timed:" reason
// for a settle window, a page-side setTimeout sleep, a bare time.After).
func TestUntimedSleeps(t *testing.T) {
	t.Parallel()
	js := "new Promise((r) => set" + "Timeout(r, 300))" // split, or this file would hold a page-side sleep
	src := `package x

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/chromedp/chromedp"
)

func f(t *testing.T, c chan int) {
	time.Sleep(time.Second) // bad: line 12
	time.Sleep(time.Second) // timed: a settle window before the audit (bad: line 13)
	time.Sleep(time.Second) // timed: absence: nothing may move
	time.Sleep(time.Second) // timed: behaviour:
	<-time.After(time.Second)
	select {
	case <-time.After(time.Second):
	}
	select {
	case <-c:
	case <-time.After(time.Second):
	}
	_ = chromedp.Sleep(time.Second)
	_ = ` + "`" + `(async () => {
		await ` + js + `;
		await ` + js + `; // timed: scenario: one sample a 300 ms
	})()` + "`" + `
	synctest.Test(t, func(t *testing.T) { time.Sleep(time.Hour) })
	time.Sleep(time.Hour)
	synctest.Wait()
}
`
	file := filepath.Join(t.TempDir(), "x_test.go")
	if err := os.WriteFile(file, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	var got []int
	for _, s := range untimedSleeps(t, file) {
		got = append(got, s.pos.Line)
	}
	if want := []int{12, 13, 15, 16, 17, 24, 26}; !slices.Equal(got, want) {
		for _, s := range untimedSleeps(t, file) {
			t.Logf("%d: %s", s.pos.Line, s.problem)
		}
		t.Errorf("sleeps found on lines %v, want %v", got, want)
	}
}

// TestTestFiles: the files read are the tests and every file of a package
// whose non-test files import "testing" (a helper sleeping for its tests).
func TestTestFiles(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	files := map[string]string{
		"a/a.go":        "package a\n\nimport \"time\"\n",
		"a/a_test.go":   "package a\n",
		"help/help.go":  "package help\n\nimport \"testing\"\n",
		"help/other.go": "package help\n",
	}
	var names []string
	for name, src := range files {
		if err := os.MkdirAll(filepath.Join(root, filepath.Dir(name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		names = append(names, name)
	}
	slices.Sort(names)
	if got, want := testFiles(t, root, names), []string{"a/a_test.go", "help/help.go", "help/other.go"}; !slices.Equal(got, want) {
		t.Errorf("testFiles = %v, want %v", got, want)
	}
}
