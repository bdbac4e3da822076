// Package trackerproto is the wire format of the WebTorrent WebSocket
// tracker protocol, as the JavaScript bittorrent-tracker server and client
// (v11) and anacrolix/torrent's webtorrent client speak it. It imports only
// the standard library and builds for GOOS=js as well as natively: the pod's
// tracker (server/tracker) and the browser peer both use it.
//
// # Binary strings
//
// Info hashes, peer ids and offer ids are 20 raw bytes carried as JSON
// strings of 20 code points in the range U+0000..U+00FF, one per byte (a
// JavaScript "binary string", i.e. latin1 inside UTF-8 JSON). [ID] reads and
// writes that form: byte 0xE9 is the JSON text "é" (bytes C3 A9), control
// bytes are escaped the way JSON.stringify escapes them ("\n", "\u001f").
// Any code point above U+00FF, or a length other than 20, is invalid.
//
// # Messages (one JSON object per WebSocket text message)
//
// Peer to tracker ([Request], [DecodeRequest], [Request.AppendJSON]):
//
//	{"action":"announce","info_hash":B,"peer_id":B,"numwant":5,"uploaded":0,
//	 "downloaded":0,"left":1234,"event":"started",
//	 "offers":[{"offer":{"type":"offer","sdp":"..."},"offer_id":B}, ...]}
//	{"action":"announce","info_hash":B,"peer_id":B,"to_peer_id":B,
//	 "answer":{"type":"answer","sdp":"..."},"offer_id":B}
//	{"action":"scrape","info_hash":B}          (or an array of B; none = all)
//
// event is "started", "stopped", "completed", "paused", "update", "empty"
// or absent (both mean "update"). left follows JavaScript Number(): a
// number or numeric string; absent or not numeric means unknown (the peer
// counts as incomplete). The offer and answer values are opaque JSON that
// the tracker relays verbatim ([json.RawMessage]).
//
// Tracker to peer ([Response], [DecodeResponse], and the Append functions
// the server uses on its hot path):
//
//	{"complete":1,"incomplete":2,"action":"announce","interval":120,"info_hash":B}
//	{"action":"announce","offer":{...},"offer_id":B,"peer_id":B,"info_hash":B}
//	{"action":"announce","answer":{...},"offer_id":B,"peer_id":B,"info_hash":B}
//	{"action":"scrape","files":{B:{"complete":1,"incomplete":2,"downloaded":1}},
//	 "flags":{"min_request_interval":600}}
//	{"action":"announce","failure reason":"...","info_hash":B}
//	{"failure reason":"..."}                   (a request that could not be parsed)
//
// The tracker sends no reply to an answer; the announcer of n offers is
// sent to at most n other peers of the swarm, the i-th offer to the i-th.
//
// Decoding is a single pass over the input with no reflection: it validates
// the whole message as JSON (as JSON.parse would), allocates nothing for an
// announce once the Request's Offers slice has grown, and enforces a nesting
// limit. Fuzz tests compare it with encoding/json.
package trackerproto
