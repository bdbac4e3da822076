// Package webseed serves video files over plain HTTP for BEP 19 web seeding
// and direct playback. The pod mounts the handler at
// GET /static/webseed/{file}; each torrent's url-list (and each magnet's ws=)
// holds the full URL of its file there.
//
// # Protocol
//
//   - GET and HEAD, with single and multiple byte ranges (RFC 9110):
//     206 with Content-Range, open-ended ("bytes=100-") and suffix
//     ("bytes=-100") ranges, 416 with "Content-Range: bytes */<size>" for an
//     unsatisfiable range, If-Range, If-None-Match (304), If-Modified-Since.
//   - Headers: Accept-Ranges: bytes; a strong ETag derived from the file's
//     size and modification time; Cache-Control: public, max-age=31536000,
//     immutable (a web seed file's content never changes: a new upload gets
//     a new name, so the name must never be reused for other bytes);
//     Content-Type from the extension (mp4/m4v video/mp4, webm video/webm,
//     ogv/ogg video/ogg, mkv video/x-matroska, mov video/quicktime, else
//     application/octet-stream) with nosniff; Access-Control-Allow-Origin: *
//     and exposed Content-Range/Content-Length/Accept-Ranges/ETag, because
//     browsers on other pods' pages fetch friends' videos cross-origin.
//   - CORS preflight: OPTIONS answers 204 with Allow-Origin "*",
//     Allow-Methods GET, HEAD, Allow-Headers echoing the requested header
//     names plus Range, If-Range, If-None-Match, If-Modified-Since,
//     Cache-Control and Pragma, the same exposed headers and Max-Age 86400.
//     A page that sends Range with a suffix or several ranges, If-Range or
//     Cache-Control (WebTorrent JS does) is not a "simple" CORS request and
//     needs this before its GET.
//   - 404 (API error JSON) for a name the resolver does not know or that is
//     not a plain file name.
//   - Bytes of response bodies are counted: ServedBytes and the Prometheus
//     counter swarmtube_webseed_served_bytes_total, plus
//     swarmtube_webseed_requests_total{code}.
package webseed
