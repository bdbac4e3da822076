// Package e2e holds the browser peer's end-to-end tests: a real headless
// Chromium (driven by chromedp) loads the engine from an in-test pod (static
// files, .torrent, web seed, the pod's anacrolix seeder with WebRTC, and a
// WebSocket tracker) and plays videos through the Service Worker. The tests
// skip when Chromium, ffmpeg or node are missing, except under CI=true.
package e2e
