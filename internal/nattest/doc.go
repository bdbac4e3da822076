// Package nattest holds the NAT lab test (issue 11, section 4): a pod on
// a simulated internet serving HTTPS, two real headless Chromium viewers
// behind home routers with different NATs (internal/netlab), and an aria2c
// behind NAT, checking that peer to peer works where people are: viewers
// behind an endpoint-independent and a symmetric NAT exchange pieces
// through the pod's STUN/TURN server, aria2c downloads from the pod's TCP
// seeder, and with the ICE servers off the watch page says why it plays
// from the pod. It also measures a WebRTC data channel through the pod's
// relay against the direct path (BenchmarkDataChannel).
//
// The package has tests only; see natlab_test.go.
package nattest
