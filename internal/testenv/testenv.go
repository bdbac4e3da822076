// Package testenv gives tests one way to find the external programs they
// drive (aria2c, ffmpeg, chromium, node and the npm peers in scripts/node).
//
// A missing program skips the test on a developer's machine, so a partial
// set-up still runs what it can, but fails it in CI (CI=true), where
// `make test` has installed everything and a skip would hide a broken install.
package testenv

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

// InCI reports whether the tests run under CI, where nothing may be skipped
// for a missing tool.
func InCI() bool { return os.Getenv("CI") == "true" }

// LookPath returns the path of the named program, skipping the test (or, in
// CI, failing it) when the program is not installed.
func LookPath(t testing.TB, names ...string) string {
	t.Helper()
	for _, name := range names {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	missing(t, "program %v not found in PATH (run `make test` to install test dependencies)", names)
	return ""
}

// RepoRoot returns the repository root, found from this source file.
func RepoRoot(t testing.TB) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("testenv: cannot locate source file")
	}
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// NodeModules returns scripts/node/node_modules, where `make test` installs
// the pinned JavaScript reference peers, skipping (or failing in CI) when it
// has not been installed.
func NodeModules(t testing.TB) string {
	t.Helper()
	LookPath(t, "node")
	dir := filepath.Join(RepoRoot(t), "scripts", "node", "node_modules")
	if _, err := os.Stat(filepath.Join(dir, "bittorrent-tracker")); err != nil {
		missing(t, "npm test peers not installed in %s (run `make test`)", dir)
	}
	return dir
}

// Chromium returns the path of a Chromium binary for browser tests.
func Chromium(t testing.TB) string {
	t.Helper()
	return LookPath(t, "chromium", "chromium-browser", "google-chrome")
}

// Missing skips the test because something it needs is not installed, or
// fails it in CI, where `make test` installs everything.
func Missing(t testing.TB, format string, args ...any) {
	t.Helper()
	missing(t, format, args...)
}

func missing(t testing.TB, format string, args ...any) {
	t.Helper()
	if InCI() {
		t.Fatalf(format, args...)
	}
	t.Skipf(format, args...)
}

// Eventually waits until cond holds, checking it at growing intervals
// (10 ms up to 100 ms), and fails the test naming what it waited for if
// within passes first. It is the one polling helper of the suite, for
// conditions a test cannot be told about (another process's state, a
// socket's close); where a channel or callback says when, wait on that.
func Eventually(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	if !Poll(ctx, cond) {
		t.Fatalf("timed out after %s waiting for %s", within, what)
	}
}

// Poll calls cond at growing intervals (10 ms up to 100 ms) until it
// returns true, and reports false if ctx ends first. It is Eventually for
// callers that report failure themselves (a browser screenshot first, an
// error from a helper without a testing.TB); the suite's tests have no
// other polling loop (internal/repotest TestNoSleepsInTests).
func Poll(ctx context.Context, cond func() bool) bool {
	wait := 10 * time.Millisecond
	for !cond() {
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return false
		case <-t.C:
		}
		wait = min(wait*2, 100*time.Millisecond)
	}
	return true
}
