package web

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"io/fs"
	"path"
	"strings"

	"github.com/tdewolff/minify/v2"
	"github.com/tdewolff/minify/v2/css"
	"github.com/tdewolff/minify/v2/js"
)

// minifyAll returns the minified bytes of every stylesheet and script in
// static, keyed by name, with github.com/tdewolff/minify (a well-kept,
// pure-Go minifier that parses ES2020+ modules and CSS3, so it cannot
// break code the way text substitution could). It runs once per site: the
// tree is embedded and immutable. The versioned URLs, ETags and the
// stylesheet inlined in every page (inlineCSS) all use these bytes.
// wasm_exec.js is Go's own and left alone; so is anything the minifier
// refuses, served as written.
func minifyAll(static fs.FS) map[string][]byte {
	m := minify.New()
	m.AddFunc("text/css", css.Minify)
	// KeepVarNames: the engine's modules are read in the browser's debugger
	// and their names appear in stack traces people send.
	m.Add("text/javascript", &js.Minifier{KeepVarNames: true})
	out := map[string][]byte{}
	_ = fs.WalkDir(static, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || path.Base(name) == "wasm_exec.js" {
			return nil
		}
		var mime string
		switch path.Ext(name) {
		case ".css":
			mime = "text/css"
		case ".js", ".mjs":
			mime = "text/javascript"
		default:
			return nil
		}
		src, err := fs.ReadFile(static, name)
		if err != nil {
			return nil
		}
		bundled := false
		if stmt, ok := bundledImports[name]; ok {
			src, bundled = bundleImport(static, src, stmt)
		}
		var buf bytes.Buffer
		if err := m.Minify(mime, &buf, bytes.NewReader(src)); err != nil {
			if bundled {
				out[name] = src
			}
			return nil // served as written
		}
		out[name] = buf.Bytes()
		return nil
	})
	return out
}

// workerImport is the one script the engine's scripts import (the page ↔
// worker message types), and bundledImports the statement by which each
// does: the pod serves both with it in place of that statement. On a first
// visit the Service Worker installs only once its script has run, and the
// page's <video> starts only once engine.js has run: an imported script is
// one more request on either path (measured 5–170 ms, BENCHMARKS.md).
const workerImport = "engine/messages.js"

var bundledImports = map[string]string{
	"engine/sw.js":     "importScripts('messages.js');",
	"engine/engine.js": "import './messages.js';",
}

// bundleImport returns src with the statement stmt (which must occur once)
// replaced by workerImport's source, and whether it did.
func bundleImport(static fs.FS, src []byte, stmt string) ([]byte, bool) {
	imported, err := fs.ReadFile(static, workerImport)
	if err != nil || bytes.Count(src, []byte(stmt)) != 1 {
		return src, false
	}
	return bytes.Replace(src, []byte(stmt), append(append([]byte("\n"), imported...), '\n'), 1), true
}

// stylesheet is the site's one stylesheet, inlined in every page's head so
// that no request blocks the first render (issue 17 item 23).
const stylesheet = "css/style.css"

// startScript is the engine's early Service Worker registration, inlined
// at the top of every page's head (inlineStart) so that it runs before the
// page's modules load (BENCHMARKS.md, start-up).
const startScript = "engine/start.js"

// cspFor is the pages' Content-Security-Policy allowing exactly the inlined
// stylesheet and start script (CSP3 hash sources, which pin their bytes),
// and no other inline style or script. An empty start script adds no hash.
func cspFor(css, start []byte, frameAncestors string) string {
	csp := strings.Replace(cspCommon, "style-src 'self'; ", "style-src 'self' "+hashSource(css)+"; ", 1)
	if len(start) > 0 {
		csp = strings.Replace(csp, "script-src 'self' ", "script-src 'self' "+hashSource(start)+" ", 1)
	}
	return csp + "frame-ancestors " + frameAncestors
}

// hashSource is the CSP hash source of an inline element's exact text.
func hashSource(text []byte) string {
	sum := sha256.Sum256(text)
	return "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
}
