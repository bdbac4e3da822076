// Package jsdeps guards the browser build: its test fails when the wasm
// peer (./wasm/... and ./shared/... built with GOOS=js GOARCH=wasm) pulls in
// a package that has no business in a browser (testing, pprof, bbolt,
// anacrolix/torrent, the pod's server packages, os/signal). It has no code.
package jsdeps
