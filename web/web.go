// Package web embeds the pod's pages and static assets (HTML, CSS, ES
// modules, the wasm engine) so the pod is one binary.
package web

import (
	"embed"
	"io/fs"
)

//go:embed static
var files embed.FS

// Static returns the tree served under /static/.
func Static() fs.FS {
	sub, err := fs.Sub(files, "static")
	if err != nil {
		panic(err) // the embedded tree always has "static"
	}
	return sub
}
