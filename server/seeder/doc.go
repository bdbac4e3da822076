// Package seeder is the pod's always-on hybrid BitTorrent seeder: one
// github.com/anacrolix/torrent client that uploads every local video to
// standard clients over TCP and uTP and to browsers over WebRTC
// (WebTorrent), announcing to the trackers in each torrent's announce-list
// (the pod's own ws:// and http:// trackers). It is the bridge between the
// browser swarm and ordinary BitTorrent clients.
//
// # Contract
//
//   - Seed(ctx, torrentBytes, filePath) serves the complete file at filePath
//     under the torrent's info hash; the file's name on disk need not be
//     info.name. The first Seed of a torrent hashes the file once and fails
//     with ErrCorrupt if any piece does not match (SeedVerified skips that
//     when the caller has just hashed the same bytes). Completion is kept
//     in a bbolt piece-completion store (DataDir/.torrent.bolt.db, separate
//     from the pod's own database), so Seed after a restart reads nothing
//     from disk before peers ask for data. Seed is idempotent and safe for
//     concurrent use.
//   - Seeded torrents never download: their storage is read-only and data
//     download is disallowed. Pieces not recorded as complete are
//     verified, never fetched. Only Fetch downloads (a mirror of a
//     friend's video, issue 18): into a separate writable file, from the
//     swarm and the web seeds it is given, every piece checked before it
//     is recorded complete; the caller then seeds the finished file.
//   - Remove stops seeding a torrent and forgets its completion, so a later
//     Seed of the same info hash verifies again.
//   - Seeding on demand (issue 20): Register(infoHash, torrentPath,
//     filePath) records a stored torrent without reading or loading it (a
//     map entry: no anacrolix torrent, no goroutine). Touch (an announce),
//     TouchFile (a web seed read) and Wake (Touch that waits) load it from
//     the .torrent with its recorded completion, reading nothing of the
//     file. A registered torrent without connected peers or Touch for
//     Config.IdleTimeout is unloaded; at most Config.MaxActive are loaded,
//     the least recently active unloaded first. Torrents given to Seed and
//     never registered stay loaded until Remove. A wake racing an unload
//     is safe by construction: wake marks activity under the seeder's
//     lock, where the reaper decides again before unloading, so a torrent
//     a wake returned stays loaded; and a torrent taken out to be dropped
//     is dropped before the same info hash is added again (anacrolix keeps
//     one torrent per info hash and would hand the new load the one being
//     dropped). TestWakeDuringUnload stops the reaper at both points.
//   - Discovery is trackers only: no DHT, PEX, UPnP/NAT-PMP or local peer
//     discovery; web seeds only for Fetch. The listen address, port (0 = any
//     free) and the IP reported to HTTP trackers (PublicIP, sent as "ip=";
//     without it trackers use the connection's source address, which for a
//     pod announcing to its own tracker over loopback is 127.0.0.1 and only
//     right for local set-ups) come from Config.
//   - Counters: UploadedBytes (payload bytes sent to peers, all torrents,
//     monotonic), Torrents (per torrent), and Prometheus metrics on the
//     Registerer given to New, prefixed swarmtube_seeder_.
//
// anacrolix logs are routed to the slog.Logger given to New: its Info and
// below at Debug, Warning at Warn, Error and Critical at Error.
//
// # uTP: the pure-Go implementation, whatever the build
//
// anacrolix v1.57.1 picks its uTP stack at compile time: go-libutp (cgo
// bindings to libutp) when cgo is on, github.com/anacrolix/utp (pure Go)
// with CGO_ENABLED=0 or the disable_libutp tag, so a pod built on a
// machine with a C compiler spoke a different uTP than one built without.
// The seeder turns the built-in socket off (DisableUTP) and adds its own
// github.com/anacrolix/utp socket on the same port as the TCP listener
// (utp.go), because with go-libutp Transmission 3.00 (Debian 12, Ubuntu
// 22.04) never downloads anything over uTP (issue 19). The evidence, from
// the lab in internal/clientlab (pod at 203.0.113.1, Transmission behind a
// NAT, web seeds removed) with tcpdump and tshark's bt-utp dissector:
//
//  1. Transmission dials uTP and sends its handshake. anacrolix, accepting,
//     writes its handshake in four writes: the protocol string and the
//     reserved bytes at once, the info hash and peer id after reading the
//     peer's (peer_protocol.Handshake); then, in one more write, the
//     extension handshake, HaveAll and Unchoke.
//  2. libutp has one packet in flight at the start of a connection: the
//     first packet carries only "\x13BitTorrent protocol" (20 bytes); the
//     rest of the handshake and the three messages wait for its ACK and
//     leave together in the second packet (240 bytes). With TCP the same
//     writes leave as separate segments.
//  3. Transmission 3.00 finishes its handshake on that packet and returns
//     READ_LATER (handshake.c, tr_handshakeDone), leaving the 192 bytes of
//     messages in its input buffer. On TCP its bandwidth pulse re-runs the
//     parser on any buffered bytes (peer-io.c, tr_peerIoTryRead); on uTP it
//     only does so when the next packet with data arrives (utp_on_read).
//  4. The seeder has nothing more to say until the peer is interested, and
//     anacrolix sends no keep-alive to a peer it is not useful to
//     (PeerConn.useful). Transmission never learns the peer has every piece
//     (transmission-remote -pi: "T?", done 0%), never sends Interested:
//     0% forever, "dl from 0 of 1 peers". Encryption on or off changes
//     nothing (the MSE stream is cut the same way).
//
// Transmission fixed step 3 in 4.0 (its tr_peerIo rewrite, #4372, makes
// try_read run the parser whenever the buffer is not empty), but 3.00 is
// what Debian and Ubuntu LTS ship. The pure-Go uTP sends every Write in
// packets of its own (utp.Conn.Write never merges writes), so the end of
// the handshake ends a packet and the messages arrive as the next one,
// which Transmission 3.00 reads. Turning uTP off would also have worked
// (Transmission falls back to TCP) but would drop uTP for every client to
// work around one packetisation; libtorrent-rasterbar and Transmission
// both download over the pure-Go uTP (internal/clientlab:
// TestTransmissionUTP blocks TCP at the client's router, TestClientMatrix
// runs each client with its defaults). anacrolix/utp serialises all its
// connections on one mutex; libtorrent-rasterbar's uTP downloads from the
// pod measured the same with both stacks, within this machine's noise
// (BENCHMARKS.md, "Desktop clients").
package seeder
