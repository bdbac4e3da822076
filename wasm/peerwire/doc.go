// Package peerwire encodes and decodes the BitTorrent peer wire protocol
// (BEP 3) as Swarmtube's browser peer speaks it over WebRTC data channels,
// plus the BEP 10 extension handshake that WebTorrent peers expect.
//
// The stream starts with a 68-byte handshake in each direction:
//
//	<19><"BitTorrent protocol"><8 reserved bytes><20-byte info hash><20-byte peer id>
//
// followed by length-prefixed messages, all integers big-endian:
//
//	<uint32 length><uint8 id><payload>    (length 0 = keep-alive)
//
//	0 choke, 1 unchoke, 2 interested, 3 not interested   (no payload)
//	4 have       <uint32 index>
//	5 bitfield   <bitfield, high bit of byte 0 = piece 0>
//	6 request    <uint32 index><uint32 begin><uint32 length>
//	7 piece      <uint32 index><uint32 begin><block>
//	8 cancel     <uint32 index><uint32 begin><uint32 length>
//	20 extended  <uint8 extended id><bencoded payload>   (BEP 10, id 0 = handshake)
//
// Reserved bit 0x10 of byte 5 announces BEP 10 support. Other message ids
// (BEP 5 port, BEP 6 fast extension) are decoded as [Unknown] and ignored
// by the engine; the engine never sets their reserved bits, so well-behaved
// peers do not send them.
//
// Decoding never trusts a length: messages longer than [MaxMessageLength]
// are refused with [ErrTooLong], and fixed-size messages with a wrong
// length with [ErrBadLength]. All functions are safe for concurrent use on
// distinct values; a [Decoder] belongs to one reader goroutine.
package peerwire
