// Package tracker is the pod's BitTorrent tracker: a WebTorrent WebSocket
// tracker and a BEP 3/23/48 HTTP tracker over one swarm registry, so a
// browser and an HTTP client announcing the same info hash count each
// other (WebRTC offers go only to WebSocket peers, HTTP peer lists hold
// only HTTP peers).
//
// # WebSocket tracker (GET /tracker/socket)
//
// The protocol of the JavaScript bittorrent-tracker server (v11), with the
// messages of package trackerproto:
//
//   - announce: joins (started, or any first announce), updates, completes
//     or leaves (stopped) the swarm of info_hash as peer peer_id; left == 0
//     counts the peer as complete. The reply is
//     {"complete","incomplete","action":"announce","interval","info_hash"}
//     with interval = AnnounceInterval/5 seconds (120 by default). With n
//     offers, up to n other WebSocket peers of the swarm, chosen at random,
//     each receive one offer {"action":"announce","offer","offer_id",
//     "peer_id","info_hash"}, after the reply.
//   - an announce carrying answer, to_peer_id and offer_id is relayed to
//     to_peer_id's connection as {"action":"announce","answer","offer_id",
//     "peer_id","info_hash"}; its sender gets no reply (nor when to_peer_id
//     is gone). It also counts as an update of the sender, as in
//     bittorrent-tracker.
//   - scrape: {"action":"scrape","files":{ih:{complete,incomplete,
//     downloaded}},"flags":{"min_request_interval"}} for one hash, a list,
//     or all swarms (at most 1000) when none is named; unknown hashes count 0.
//
// A message that does not parse gets {"failure reason"} with
// bittorrent-tracker's texts ("invalid info_hash", "invalid action in WS
// request: x", ...); a refused announce gets {"action","failure reason",
// "info_hash"}: "info_hash is not tracked by this pod" (Config.Allow),
// "too many offers (max 10)", "invalid event", "too many swarms on one
// connection", and "too many requests: slow down" above
// AnnouncesPerSecond. A peer leaves its swarms on stopped, when its
// connection closes, and PeerTimeout after its last announce.
//
// Connections are closed with a status and reason on: a message above
// MaxMessageBytes (1009), protocol errors (1002), sustained flooding (1008),
// server shutdown (1001). A peer whose unread output exceeds MaxQueuedBytes
// is dropped. Upgrades beyond MaxConnsPerIP get HTTP 429, and after Close
// HTTP 503.
//
// # HTTP tracker (GET /tracker/announce, GET /tracker/scrape)
//
// BEP 3 announce with info_hash, peer_id, port (required), left, event,
// numwant (default 50, capped by MaxNumWant), compact (BEP 23: compact
// unless compact=0; IPv6 peers in peers6), no_peer_id and ip. A peer is
// keyed by its address (IP:port), as bittorrent-tracker and opentracker
// do; its IP is the connection's (IPv4-mapped addresses unmapped), or the
// ip parameter when the client is on loopback or a private network (or
// Config.TrustIPParam). Replies: d8:complete..10:incomplete..8:interval..
// 12:min interval..5:peers..[6:peers6..]e. Scrape (BEP 48) takes repeated
// info_hash parameters (none: all swarms) and replies
// d5:filesd<20-byte ih>d8:complete..10:downloaded..10:incomplete..ee
// 5:flagsd20:min_request_interval..ee. Errors are d14:failure reason..e
// with status 200, as clients expect.
//
// # Concurrency and performance
//
// Swarms live in a 64-way sharded map; each swarm has its own mutex, held
// only to update counts and pick targets. Messages are decoded without
// reflection (trackerproto) and framed into a per-connection output queue.
// On Linux, WebSockets are served by event loops (one per GOMAXPROCS, epoll,
// loop_linux.go): a loop reads every ready socket and handles its messages,
// then writes each connection's queue once, so under load the reply and the
// offers relayed to a peer in that round share one write system call, and
// an idle connection costs no goroutine. Elsewhere (and for connections
// that are not TCP sockets) each connection has a reader and a writer
// goroutine. Both drivers parse frames with the same code (feed). The
// upgrade and the framing use github.com/gobwas/ws rather than
// nhooyr.io/websocket, whose one-write-per-message API cannot coalesce.
// Buffers come from pools, so idle connections hold no buffers.
//
// # Connection lifecycle
//
// A WebSocket connection has one state (connState), which only moves
// forward; both drivers and every goroutine that queues output go through
// it:
//
//	open ──close frame queued──▶ closeQueued ──frame written, write side shut──▶ draining
//	 │ │                             │    │                                       │
//	 │ │ kill: queue overflow,       │    │ kill                                  │ peer EOF or
//	 │ │ write error, timeout        │    ▼                                       │ linger over
//	 │ └──────────────────────────────▶ dropping ──socket closed──▶ finished ◀────┘
//	 │                               │                                ▲
//	 └── peer EOF, read error ───────┴────────────────────────────────┘
//
// finished is where the connection leaves its swarms and the server, once
// (shutdown, or the event loop's finish). Closes come from feed (a
// protocol error, a flood, the peer's own close) and from Server.Close.
//
// The locks: a swarm's mutex may be held while taking a connection's
// member lock (join, leave), never the other way round; a connection's
// output lock is taken alone.
package tracker
