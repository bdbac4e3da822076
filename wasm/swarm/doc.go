// Package swarm is the transport-independent core of Swarmtube's browser
// peer: one torrent's pieces, the peers exchanging them over the BitTorrent
// peer wire protocol (package peerwire), the streaming piece picker, SHA-1
// verification, the BEP 19 web seed and bounded memory. It builds natively
// and for GOOS=js, so the whole engine is tested without a browser; the
// wasm side only supplies connections (WebRTC data channels), the hasher
// when it is SubtleCrypto rather than the default crypto/sha1, and the
// JavaScript API.
//
// # Contract
//
// A [Torrent] is created from a parsed .torrent with [New] and driven by
// [Torrent.Run] until its context ends; [Torrent.Close] is idempotent.
// Every connection handed to [Torrent.AddConn] (any io.ReadWriteCloser: a
// data channel adapter, net.Pipe in tests) speaks the peer wire protocol:
// both sides send their handshake at once, the engine sets the BEP 10 bit
// and sends an extension handshake {m:{}, v, reqq} to peers that set it too,
// then a bitfield, then unchokes every interested peer (upload is free while
// the page is open). Requests are 16 KiB blocks; a peer sending data that
// fails its piece's SHA-1 is disconnected and its peer id banned.
//
// # The pod budget
//
// The pod pays for every byte its web seed and its seeder peers
// (Config.ServerPeer) send, so both are one source, "the pod", asked only
// for pieces within the horizon: PodHorizon seconds of media after the
// playhead, converted to bytes with the file's mean bitrate (Length ÷
// duration). The page reports the playhead, duration, rate, pause and
// buffer with [Torrent.SetPlayback]; until it has, the horizon is
// ReadaheadBytes after each read position. Inside the horizon a piece goes
// to the pod
//
//   - when no unchoked browser peer offers it: at once if the player
//     needs it within podLead (wall time, from its distance to the
//     playhead and the playback rate), else after it waited podFillDelay
//     in the horizon for a browser peer to appear;
//   - when a browser peer offers it, only once it is needed within
//     podRescue, podGrace passed without a block of it arriving, and at the
//     rate browser peers deliver it would not arrive in time: browser peers
//     get it first, the pod only when they cannot deliver before the buffer
//     runs dry.
//
// A piece no browser peer offers yet, but that a connected browser peer
// is fetching from the pod or will fetch (it is in that peer's horizon and
// that peer's playhead is ahead of ours, or level with it and its peer id
// the lower), is treated like an offered one: the viewer furthest ahead
// asks the pod, the others take the piece from it, and the pod sends it
// to them too only when it is due within podRescue. Peers learn this from
// each other through the swarmtube_pod BEP 10 extension (share.go).
//
// While paused nothing is needed soon, so once the horizon is full the
// pod sends nothing. A starving player's waiting reads count as in the
// horizon (a seek the page has not reported yet). While the tracker
// reports other viewers ([Torrent.ExpectPeers]) and none is connected, a
// piece no browser peer offers waits up to peerWait for them. Of the two
// pod sources
// the web seed is used (HTTP ranges end on piece boundaries and are cheap
// for the pod); seeder peers are asked when there is no web seed, while it
// fails, and for pieces needed within a second while its slots are busy.
//
// # Browser peers
//
// Reads ([Torrent.ReadAt]) mark streams. Browser peers are asked first
// for the horizon's pieces and the next ReadaheadBytes after each read
// position, nearest first; a block waiting on one peer for a second is
// asked of a second peer, and after 250 ms when its piece is due within
// podRescue+podGrace (a lost packet holds a WebRTC data channel for SCTP's
// 1 s retransmission timeout: another browser peer gets the block before
// the pod may). Beyond that they finish partial pieces, then
// prefetch rarest first: everything beyond the horizon comes from browser
// peers only. Bytes the page read from the web seed before the engine ran
// are handed over with [Torrent.AddWebSeedData]: they count as web seed
// bytes and their whole pieces are stored, not fetched again.
//
// # Piece life
//
// Each piece has one state (pieceState), changed only under Torrent.mu:
//
//	          first block asked of a peer             every block in
//	missing ──(picker) or web seed fetch──▶ downloading ───────────────▶ verifying
//	   ▲  ▲                                     │                           │
//	   │  │ evicted past MemoryBudget unless    │ web seed range verified   │ SHA-1 of the
//	   │  │ stored; stored copy fails           │                           │ piece matches
//	   │  └─ read-back or is dropped ── have ◀──┴───────────────────────────┤
//	   │                                                                    │
//	   └──────────── SHA-1 fails: contributing peers get a strike ◀─────────┘
//	                 (a sole contributor is banned)
//
// A page that seeds its own file starts with every piece in have, and so
// do the pieces Config.Storage holds; bytes the
// page read before the engine ran (AddWebSeedData) go straight to
// verifying. A piece in have is served to peers and read by the player;
// nothing else is.
//
// # Memory and the browser's storage
//
// Without Config.Storage, verified pieces stay in memory up to
// MemoryBudget; above it the pieces farthest from every stream position
// are evicted (missing again), and the picker fetches only urgent pieces.
// A peer asking for an evicted piece is choked and unchoked again, which
// by BEP 3 cancels its outstanding requests.
//
// With Config.Storage (package piecestore: OPFS or IndexedDB), every
// verified piece is also written there in the background, and memory is
// only a cache of MemoryBudget (32 MiB by default): a piece dropped from
// memory once written stays in have, and is read back — and verified
// against its SHA-1 again — when the player or a peer needs it. Memory
// drops written pieces first; when the writes lag behind the download,
// pieces still waiting to be written go too (missing again), so memory
// stays bounded whatever the storage's speed. The
// pieces the storage holds when the torrent starts begin in have, so a
// reload plays them without fetching and announces them (bitfield) to
// peers. A stored piece that fails on read-back is deleted and missing
// again (Stats.BadStored); so are pieces the storage drops by itself
// (its budget, the viewer clearing it: Torrent.Unstored) when not also
// in memory. Prefetching stops when the storage could take no more
// without evicting this video's own pieces.
//
// Neither the pod nor a peer is asked for a piece that memory would drop
// as it arrives (it is outside every read window and nothing in memory
// would be evicted before it): when the horizon and the read windows ask
// for more than memory can hold and nothing can be dropped without loss
// (writes wait at high playback rates), the farthest pieces wait until
// the playhead comes near, instead of being fetched, evicted and fetched
// again while the piece the player waits for is never reached.
package swarm
