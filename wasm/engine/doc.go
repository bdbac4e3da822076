// Package engine is the browser peer's Go side minus the JavaScript
// boundary: it opens a torrent (package swarm), joins its swarm through
// every ws:// tracker of the announce-list (package trackerclient over
// WebRTC, package rtcpeer) and reports stats. It builds natively too, so
// the benchmarks can run native viewers of the very same engine, and tests
// run it against the pod's seeder and tracker without a browser.
//
// Peer ids start with "-ST0001-". Peers whose id starts neither with "-ST"
// (our peer) nor "-WW" (WebTorrent) are treated as server seeders (the pod)
// and spared for non-urgent pieces; see package swarm.
package engine
