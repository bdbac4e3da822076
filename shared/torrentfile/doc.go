// Package torrentfile builds and reads the .torrent files and magnet links
// of Swarmtube videos. It is shared by the pod and the browser peer (it
// builds for GOOS=js GOARCH=wasm and imports only the standard library), so
// an uploader's browser and the pod hash a file to the same info hash.
//
// # What a Swarmtube torrent is
//
// A single-file BitTorrent v1 torrent (BEP 3):
//
//   - info: exactly {length, name, piece length, pieces}. name is
//     FileName(title, ext); piece length is PieceLength(size): the smallest
//     power of two keeping the file within 1024 pieces, clamped to
//     [256 KiB, 1 MiB], always a multiple of the 16 KiB block that peers and
//     WebRTC data channels request.
//   - announce-list (BEP 12): the pod's WebSocket tracker
//     (ws://host/tracker/socket) then its HTTP tracker
//     (http://host/tracker/announce), one tier each; announce repeats the
//     first for clients without BEP 12.
//   - url-list (BEP 19): the full URL of the file on the pod's web seed.
//   - created by, creation date, comment: optional.
//
// The magnet link carries the same: xt=urn:btih:<40 hex>, dn, xl, one tr per
// tracker, one ws per web seed.
//
// # Encoding rules
//
// Output is canonical bencode (sorted keys, minimal integers). Parse accepts
// only canonical input and only the four info keys above, so the info hash it
// returns (SHA-1 of the info bytes as read) always equals Info.InfoHash().
// Anything else is refused with ErrInvalid or ErrUnsupported, never guessed.
package torrentfile
