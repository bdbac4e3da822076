package seeder

import "errors"

// ErrCorrupt is returned by Seed when the file does not match the torrent's
// piece hashes.
var ErrCorrupt = errors.New("seeder: file does not match torrent")

// ErrFileMismatch is returned by Seed when the file is missing or its size
// differs from the torrent's length.
var ErrFileMismatch = errors.New("seeder: file missing or wrong size")

// ErrConflict is returned by Seed when the info hash is already seeded from
// another file.
var ErrConflict = errors.New("seeder: info hash already seeded from another file")

// ErrClosed is returned after Close.
var ErrClosed = errors.New("seeder: closed")

// errReadOnly is what the storage answers to writes; the seeder never
// downloads, so reaching it is a bug or a misbehaving peer.
var errReadOnly = errors.New("seeder: storage is read-only")

// ErrNotRegistered is returned by Wake for an info hash neither seeded nor
// registered.
var ErrNotRegistered = errors.New("seeder: torrent not registered")
