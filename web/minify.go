package web

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
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
		var buf bytes.Buffer
		if err := m.Minify(mime, &buf, bytes.NewReader(src)); err != nil {
			return nil // served as written
		}
		out[name] = buf.Bytes()
		return nil
	})
	return out
}

// stylesheet is the site's one stylesheet, inlined in every page's head so
// that no request blocks the first render (issue 17 item 23).
const stylesheet = "css/style.css"

// cspFor is the pages' Content-Security-Policy allowing exactly the inlined
// stylesheet (a CSP3 hash source), and no other inline style or script.
func cspFor(css []byte, frameAncestors string) string {
	sum := sha256.Sum256(css)
	return strings.Replace(cspCommon, "style-src 'self'; ",
		fmt.Sprintf("style-src 'self' 'sha256-%s'; ", base64.StdEncoding.EncodeToString(sum[:])), 1) +
		"frame-ancestors " + frameAncestors
}
