// Package web is the pod's own front end: HTML pages, CSS and ES modules
// (and, under static/engine/, the WebAssembly peer), embedded in the binary.
//
// The pages use only the public REST API (docs/API.md) from the browser,
// so another front end could replace this one. The server renders each page
// once from templates/ (a shared layout plus the page's skeleton); no
// user-provided text ever passes through the server-side templates, and the
// scripts build the DOM with textContent, never innerHTML with data.
//
// Routes registers:
//
//	GET /{$} /search /videos/{id} /upload /login /register /admin   pages
//	GET /favicon.ico                                                 → the logo
//	GET /static/{path...}                                            assets
//
// Pages are sent with a Content-Security-Policy (scripts only from the pod,
// 'wasm-unsafe-eval' for the engine, and one inline script allowed by its
// hash: static/engine/start.js, which registers the engine's Service Worker
// before the page's modules load), Cache-Control no-cache and an ETag, so a
// revisit costs a 304.
//
// Static files carry a content-hash ETag. A request whose ?v= equals the
// file's current version (the templates' asset URLs) is cached for a year as
// immutable; any other request revalidates (no-cache), which keeps ES module
// imports and the engine's wasm fresh after a deploy. When a compressible file
// (wasm, JS, CSS, SVG, JSON) has a pre-compressed sibling, name.br or name.gz,
// it is served in its place to clients that accept that encoding, with
// Content-Encoding and Vary: Accept-Encoding; the Content-Type stays that of
// the original (application/wasm for .wasm, which streaming compilation
// needs). A Service Worker script is allowed to control the whole origin;
// the engine's worker (static/engine/sw.js) and loader (engine.js) are
// served with the one script they import (messages.js) in place of their
// importScripts and import.
package web
