package torrentfile

import "errors"

// ErrInvalid is wrapped by errors for malformed or inconsistent input: bad
// bencode, a bad magnet link, or an Info that breaks its invariants.
var ErrInvalid = errors.New("torrentfile: invalid")

// ErrUnsupported is wrapped by errors for well-formed torrents this package
// does not handle: multi-file, BitTorrent v2 or extra info keys.
var ErrUnsupported = errors.New("torrentfile: unsupported")

// ErrSizeMismatch is wrapped when HashReader's input is shorter or longer
// than the size it was given.
var ErrSizeMismatch = errors.New("torrentfile: size mismatch")
