// Package integration holds multi-pod tests that run real pod processes
// on loopback: the binary is built once per test run (TestMain) into a
// temporary directory, and each test starts pods on free ports with their
// own data directories, drives them through the public and pod-to-pod
// HTTP APIs, kills and restarts them, and stops them at cleanup.
//
// The federation tests need the pod to serve both POST /api/v1/videos
// (server/videos) and the signed federation routes (server/federation);
// a binary without them skips the tests on a developer's machine and
// fails them in CI. Video clips are made with ffmpeg (internal/testenv).
package integration
