// Package swarm is the transport-independent core of Swarmtube's browser
// peer: one torrent's pieces, the peers exchanging them over the BitTorrent
// peer wire protocol (package peerwire), the streaming piece picker, SHA-1
// verification, the BEP 19 web seed and bounded memory. It builds natively
// and for GOOS=js, so the whole engine is tested without a browser; the
// wasm side only supplies connections (WebRTC data channels), a hasher
// (SubtleCrypto) and the JavaScript API.
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
// # Picking
//
// Reads ([Torrent.ReadAt]) mark streams; each stream's position makes the
// next ReadaheadBytes of pieces urgent, nearest first (a seek moves the
// window with the next read). Urgent blocks may be requested from a second
// peer when the first is slow. Beyond the window the picker finishes
// partial pieces, then goes rarest first. When ServerPeer identifies the
// pod's seeder, non-urgent pieces are taken from it only when no browser
// peer has them, so the pod sends little more than one copy per swarm.
//
// # Web seed
//
// The web seed (url-list) is fetched with one HTTP range request per piece,
// at most two at a time, and only for the WebSeedWindow pieces after a
// stream position. The page reports its player's buffer
// ([Torrent.SetBufferAhead]); a piece there is fetched
//
//   - at once while the buffer is under HealthyBuffer, no unchoked peer
//     offers it and the web seed has sent less than 1 MiB (start-up: as
//     fast as plain HTTP);
//   - after 0.5 s while starving and no peer offers it, after WebSeedGrace
//     when one does;
//   - with a healthy buffer, only when peers have not delivered it before
//     the buffer would run dry (its wait exceeds the buffer minus 1.5 s).
//
// So playback starts as fast as plain HTTP and the rest comes from peers.
// Bytes the page read from the web seed before the engine ran are handed
// over with [Torrent.AddWebSeedData]: they count towards the 1 MiB
// start-up allowance and their whole pieces are stored, not fetched again.
//
// # Memory
//
// Verified pieces stay in memory up to MemoryBudget; above it the pieces
// farthest from every stream position are evicted, and the picker fetches
// only urgent pieces. A peer asking for an evicted piece is choked and
// unchoked again, which by BEP 3 cancels its outstanding requests.
package swarm
