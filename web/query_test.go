package web

import (
	"go/ast"
	"go/parser"
	"go/token"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/swarmtube/swarmtube/server/api"
)

// TestPageQuery: a page refuses, with the 400 error page, a parameter it
// reads (the list pages' page, the search page's q) given twice or badly
// escaped, and ignores every other parameter, as a shared link carries
// them (utm_*, fbclid, repeated or oddly escaped): each page is shown.
func TestPageQuery(t *testing.T) {
	t.Parallel()
	opts := testOptions()
	opts.Catalog = fakeCatalog{make([]api.Video, 30)}
	mux := http.NewServeMux()
	Routes(mux, opts)
	const junk = "utm_source=a&utm_source=b&fbclid=%zz&utm_medium=x;y&%zz=1&igshid"
	for _, p := range pages {
		path := strings.TrimPrefix(p.pattern, "GET ")
		path = strings.NewReplacer("{$}", "", "{id}", "aaaaaaaaaaaaaaaa", "{name}", "alice").Replace(path)
		t.Run(p.name, func(t *testing.T) {
			for _, target := range []string{path + "?" + junk, path + "?" + junk + "&" + junk} {
				if w := get(mux, target, nil); w.Code != http.StatusOK {
					t.Errorf("GET %s: %d, want the page", target, w.Code)
				}
			}
		})
	}
	for _, tc := range []struct {
		target string
		status int
		words  string
	}{
		{"/search?q=a&q=b", 400, "q&#34; is given twice"},
		{"/search?q=a&%71=b", 400, "q&#34; is given twice"},
		{"/search?q=%zz", 400, "The query string is malformed"},
		{"/search?q=a;b", 400, "The query string is malformed"},
		{"/search?utm_source=x;q=a", 400, "The query string is malformed"},
		{"/search?q=a&page=1&page=2", 400, "page&#34; is given twice"},
		{"/?page=1&page=2&page=3", 400, "page&#34; is given 3 times"},
		{"/?page=%zz", 400, "The query string is malformed"},
		{"/users/alice?page=2&page=2", 400, "page&#34; is given twice"},
		{"/search?q=cats&" + junk, 200, "cats"},
		{"/?page=2&" + junk, 200, "Page 2 of 2"},
		{"/videos/aaaaaaaaaaaaaaaa?page=1&page=2&q=a&q=b", 200, "vital"}, // the watch page reads neither
	} {
		w := get(mux, tc.target, nil)
		if w.Code != tc.status || !strings.Contains(w.Body.String(), tc.words) {
			t.Errorf("GET %s: %d, want %d with %q", tc.target, w.Code, tc.status, tc.words)
		}
		if tc.status == 400 && !strings.Contains(w.Body.String(), "This request cannot be answered") {
			t.Errorf("GET %s: not the error page", tc.target)
		}
	}
}

// TestPagesReadQueryThroughQueryValue: the pages read their query only
// through httpx.QueryValue, which refuses a repeated or malformed value of
// what is read and nothing else; a direct read (URL.Query, FormValue,
// ParseForm, Form) would take the first of two values silently, as
// OneValueEach no longer holds pages to one value each. Only handlers that
// are not pages may: oEmbed (the API, held by OneValueEach) and static
// files (an asset's ?v=, any value).
func TestPagesReadQueryThroughQueryValue(t *testing.T) {
	allowed := map[string]bool{"oembed": true, "serveStatic": true}
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, file := range files {
		if strings.HasSuffix(file, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, file, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, decl := range f.Decls {
			fn, ok := decl.(*ast.FuncDecl)
			if !ok || fn.Body == nil || allowed[fn.Name.Name] {
				continue
			}
			ast.Inspect(fn.Body, func(n ast.Node) bool {
				sel, ok := n.(*ast.SelectorExpr)
				if !ok {
					return true
				}
				x, isURL := sel.X.(*ast.SelectorExpr)
				isURL = isURL && x.Sel.Name == "URL"
				switch sel.Sel.Name {
				case "Query", "RawQuery":
					if !isURL {
						return true
					}
				case "FormValue", "PostFormValue", "ParseForm", "ParseMultipartForm", "Form", "PostForm":
				default:
					return true
				}
				t.Errorf("%s: %s reads the query with .%s: read it with httpx.QueryValue", fset.Position(sel.Pos()), fn.Name.Name, sel.Sel.Name)
				return true
			})
		}
	}
}
