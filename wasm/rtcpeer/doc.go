// Package rtcpeer opens WebRTC data channels the way WebTorrent peers do
// and turns each into a byte stream (io.ReadWriteCloser) for the peer wire
// protocol.
//
// Signalling is non-trickle, as bittorrent-tracker relays it: [NewOffer]
// and [NewAnswer] wait until ICE gathering is complete, so the SDP they
// return carries every candidate. The offerer creates one ordered data
// channel; the answerer takes the channel the offer brings.
//
// The stream adapter ([Conn]) owns backpressure, which neither pion's
// js build nor Detach provides: Write splits data into messages of at most
// [MaxMessage] bytes (larger messages from Chromium stall pion) and waits
// while the channel's bufferedAmount is above [HighWater]; received
// messages are queued in order and read as one stream. Under js the channel
// is the browser's RTCDataChannel, driven directly through syscall/js;
// natively it is pion's (with loopback candidates enabled so a native peer
// reaches a browser on the same machine). Closing a Conn closes its peer
// connection. All methods are safe for concurrent use.
package rtcpeer
