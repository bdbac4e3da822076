package web

import (
	"io/fs"
	"path"
	"regexp"
	"sort"
	"strings"
)

// staticImport matches an ES module's static imports of other files of
// the tree: `import … from './x.js'` and `import './x.js'` (ECMAScript
// ImportDeclaration with a relative specifier; dynamic import() is not
// one, and bare or absolute specifiers are not ours).
var staticImport = regexp.MustCompile(`(?m)^\s*import\s+(?:[\w*{}\s,$]+?\s+from\s+)?['"](\.{1,2}/[^'"\s]+)['"]`)

// moduleGraphs returns, for each page module js/pages/<page>.js of static,
// the files its static imports reach, directly or not (paths under
// static, sorted). The pages preload them (<link rel=modulepreload>, HTML
// "modulepreload"), so the browser fetches the whole graph at once
// instead of one level of imports after another.
func moduleGraphs(static fs.FS) map[string][]string {
	pages, _ := fs.Glob(static, "js/pages/*.js")
	out := map[string][]string{}
	for _, p := range pages {
		seen := map[string]bool{p: true}
		queue := []string{p}
		var deps []string
		for len(queue) > 0 {
			name := queue[0]
			queue = queue[1:]
			src, err := fs.ReadFile(static, name)
			if err != nil {
				continue
			}
			for _, m := range staticImport.FindAllSubmatch(src, -1) {
				dep := path.Join(path.Dir(name), string(m[1]))
				if seen[dep] || strings.HasPrefix(dep, "../") {
					continue
				}
				seen[dep] = true
				deps = append(deps, dep)
				queue = append(queue, dep)
			}
		}
		sort.Strings(deps)
		out[strings.TrimSuffix(path.Base(p), ".js")] = deps
	}
	return out
}
