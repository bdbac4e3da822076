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
//   - The seeder never downloads: its storage is read-only and every torrent
//     has data download disallowed. Pieces not recorded as complete are
//     verified, never fetched.
//   - Remove stops seeding a torrent and forgets its completion, so a later
//     Seed of the same info hash verifies again.
//   - Discovery is trackers only: no DHT, PEX, UPnP/NAT-PMP, web seeds (as a
//     downloader) or local peer discovery. The listen address, port (0 = any
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
package seeder
