package repotest

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/swarmtube/swarmtube/internal/testenv"
)

// TestZeroTimesLeftOut: a time.Time field in JSON with ",omitempty" is
// never left out (encoding/json's omitempty does not apply to structs), so
// a time that never happened went out as "0001-01-01T00:00:00Z": the
// friends list showed it as the last_seen of a friend never seen. Such
// fields must say ",omitzero" (Go 1.24), and readers treat a missing time
// as never.
func TestZeroTimesLeftOut(t *testing.T) {
	root := testenv.RepoRoot(t)
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if n := d.Name(); n == "node_modules" || n == "testdata" || (strings.HasPrefix(n, ".") && path != root) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			field, ok := n.(*ast.Field)
			if !ok || field.Tag == nil || !isTimeTime(field.Type) {
				return true
			}
			tag, err := strconv.Unquote(field.Tag.Value)
			if err != nil {
				return true
			}
			opts := strings.Split(reflect.StructTag(tag).Get("json"), ",")
			for _, o := range opts[1:] {
				if o == "omitempty" {
					t.Errorf("%s: time.Time with json omitempty is never omitted; use omitzero", fset.Position(field.Pos()))
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// isTimeTime reports whether e is time.Time (a *time.Time is omitted when
// nil, so omitempty works there).
func isTimeTime(e ast.Expr) bool {
	sel, ok := e.(*ast.SelectorExpr)
	if !ok {
		return false
	}
	x, ok := sel.X.(*ast.Ident)
	return ok && x.Name == "time" && sel.Sel.Name == "Time"
}
