// Package uploadparity holds only a test: it feeds the same files through
// the pod's upload path (server/videos Publish) and the browser's
// (wasm/engine PrepareUpload, behind seedFile) and checks that both make
// the same bytes and the same info hash. It lives outside server/ and
// wasm/ because it imports both.
package uploadparity
