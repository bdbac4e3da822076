// Package media recognises the video containers a pod accepts and prepares
// MP4 files for streaming. It is pure Go with no server-only imports, so the
// browser uploader (GOOS=js) runs exactly the same code as the pod and both
// hash the same bytes.
//
// # Container sniffing
//
// Sniff looks only at the first bytes of a file (SniffLen is enough), never
// at its name:
//
//   - MP4 (ISO base media): the first box is "ftyp" with a sane size, and its
//     major brand is not a still-image brand (HEIF/AVIF images share the
//     format but are not videos).
//   - WebM: an EBML header whose DocType is "webm".
//   - Ogg: a first page "OggS", version 0, with the beginning-of-stream flag,
//     whose first packet starts with a known codec header (Theora, Vorbis,
//     Opus, FLAC, Speex, Skeleton).
//   - QuickTime (ftyp major brand "qt  "), Matroska (EBML DocType
//     "matroska"), AVI ("RIFF" + "AVI ") and ASF/WMV (its header GUID):
//     recognised so a pod with ffmpeg can transcode them; browsers do not
//     play these containers (Container.Browser reports false).
//
// # MP4 faststart
//
// A player can start an MP4 only once it has the "moov" box (the index of
// every sample). Encoders that write it last force a viewer to fetch the
// tail first. PlanFaststart reads the top-level box list and the moov box
// (nothing else: memory is bounded by the moov size, at most MaxMoovSize) and
// describes the rewritten file, in which moov sits just before the first
// "mdat"; Layout.Reader then streams it from the original bytes. Every chunk
// offset in "stco" (32-bit) and "co64" (64-bit) tables is moved by the same
// amount as the bytes it points to; if a 32-bit offset would overflow, every
// stco is widened to co64 and the offsets are computed for the larger moov.
// The mdat payloads are copied unchanged, so the output plays identically.
//
// Files that already have moov first, and fragmented files (with "moof"),
// are left alone (Layout.NeedsRewrite reports false and Reader yields the
// input). The rewrite is deterministic: the browser and the pod produce the
// same bytes, hence the same info hash. Nothing here panics on hostile input;
// malformed files yield an error wrapping ErrMalformed.
package media
