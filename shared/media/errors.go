package media

import "errors"

// ErrUnknownContainer means the bytes are not an MP4, WebM or Ogg file.
var ErrUnknownContainer = errors.New("media: not an MP4, WebM or Ogg video")

// ErrMalformed means an MP4 file's box structure is broken (sizes that
// overrun their parent, a missing or duplicate moov, bad offset tables).
var ErrMalformed = errors.New("media: malformed MP4")

// ErrTooLarge means a structure (the moov box, the number of top-level
// boxes) exceeds what this package is willing to hold in memory.
var ErrTooLarge = errors.New("media: MP4 structure too large")
