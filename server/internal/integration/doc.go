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
//
// attack_test.go reruns the federation attacks of issue 14 against real
// pods and asserts bounds: no friend or video without consent (attack 1),
// peak RSS under 300 MiB during 100 signed 16 MiB introductions from 10
// source addresses (attack 3), one answer after the same delay for
// introductions naming open, closed and hanging local services, which the
// default pod does not even connect to (attack 5), and at most 20
// concurrent introductions learnt from a friend naming 1000 (attack 10).
package integration
