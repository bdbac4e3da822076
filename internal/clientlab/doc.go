// Package clientlab tests the pod against the BitTorrent clients people
// run on their desktops, across a network-namespace lab (package netlab)
// rather than loopback, which some clients (Transmission) ignore. It has
// only tests; this file exists for its documentation.
//
//	 203.0.113.1 pod (bin built from ./server/cmd/swarmtube)
//	      │  HTTP :8080 (API, .torrent, tracker), BitTorrent :6881 TCP + uTP
//	──────┴──────── 203.0.113.0/24 ─────────┬───────────────────┬──────
//	                      router "home-a" (endpoint-independent NAT)   router "home-b" (symmetric NAT)
//	                      192.168.1.0/24: one host per client run      192.168.2.0/24: likewise
//
// The pod publishes one generated clip; every client downloads it twice,
// from the .torrent and from the magnet link, both with the web seed
// removed (url-list and ws=), so every byte comes from the pod's seeder,
// and the result must equal the file the pod serves. Clients:
//
//   - Transmission 3.00 (transmission-daemon, driven by transmission-remote)
//     with its defaults: uTP on, encryption preferred. DHT, LPD and port
//     mapping are off only so it does not wait for them.
//   - libtorrent-rasterbar 2.0 (python3-libtorrent, testdata/lt_download.py),
//     the engine of qBittorrent and Deluge, with its defaults.
//   - aria2c (TCP only).
//   - rtorrent 0.9 (TCP only), without its curses interface
//     (system.daemon).
//
// TestTransmissionUTP pins the uTP fix in package seeder: Transmission
// must complete over uTP alone (its router drops TCP to the pod).
//
// TestClientRates (skipped unless SWARMTUBE_CLIENTLAB_BENCH_MB is set) times
// each client downloading a larger file from the pod's seeder and from an
// aria2c seeder of the same torrent (found through a second pod used as an
// open tracker: Debian's opentracker will not run as root) in the same
// lab, over TCP on both sides, plus uTP rows from the pod alone;
// scripts/bench/clients.sh runs it, BENCHMARKS.md has the results.
//
// Set SWARMTUBE_CLIENTLAB_POD to a pod binary to test that one instead of
// building ./server/cmd/swarmtube (e.g. an older build, to see a fix
// matter).
package clientlab
