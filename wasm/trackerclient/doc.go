// Package trackerclient joins a WebTorrent swarm through a WebSocket
// tracker (the protocol of the JavaScript bittorrent-tracker, which the
// pod's tracker speaks) and hands every WebRTC data channel it opens to the
// caller as a byte stream.
//
// Messages are JSON text frames; info_hash, peer_id, to_peer_id and
// offer_id are 20-byte binary strings (each byte one code point
// U+0000–U+00FF):
//
//	→ {"action":"announce","info_hash","peer_id","numwant","uploaded",
//	   "downloaded","left","event"?,"offers":[{"offer_id","offer":{"type":"offer","sdp"}}]}
//	← {"action":"announce","info_hash","interval","complete","incomplete"}
//	← {"action":"announce","info_hash","peer_id","offer_id","offer":{...}}   a peer's offer
//	→ {"action":"announce","info_hash","peer_id","to_peer_id","offer_id","answer":{"type":"answer","sdp"}}
//	← {"action":"announce","info_hash","peer_id","offer_id","answer":{...}}  the answer to one of ours
//	← {"failure reason"} / {"warning message"}
//
// A [Client] keeps one WebSocket open (reconnecting with backoff),
// announces with fresh offers at start and every interval (and sooner while
// it has few peers), answers every relayed offer, and forgets unanswered
// offers after 50 s, as WebTorrent does. It uses nhooyr.io/websocket, whose
// js build is the browser's WebSocket.
package trackerclient
