package torrentfile

import (
	"bytes"
	"context"
	"crypto/sha1" //nolint:gosec // BitTorrent v1 piece and info hashes are SHA-1 by specification
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

const (
	// MinPieceLength and MaxPieceLength bound what PieceLength chooses.
	MinPieceLength = 256 << 10
	MaxPieceLength = 1 << 20
	// targetPieces is the piece count PieceLength aims to stay under.
	targetPieces = 1024
	// BlockSize is the request size peers use (16 KiB, BEP 3 and WebTorrent's
	// data channels); every piece length is a multiple of it.
	BlockSize = 16 << 10
	// maxNameLen bounds FileName's output and Parse's input, in bytes.
	maxNameLen = 200
)

// PieceLength returns the piece length for a file of size bytes: the
// smallest power of two that keeps the file within 1024 pieces, clamped to
// [256 KiB, 1 MiB]. So files up to 256 MiB get 256 KiB pieces (a viewer
// verifies its first piece after 16 blocks), up to 512 MiB get 512 KiB, and
// bigger ones 1 MiB (a 4 GiB film has 4096 pieces, an 80 KB piece list).
func PieceLength(size int64) int64 {
	l := int64(MinPieceLength)
	for l < MaxPieceLength && l*targetPieces < size {
		l <<= 1
	}
	return l
}

// NumPieces returns how many pieces a file of length bytes has.
func NumPieces(length, pieceLength int64) int64 {
	if length <= 0 || pieceLength <= 0 {
		return 0
	}
	return (length + pieceLength - 1) / pieceLength
}

// Info is the info dictionary of a single-file BitTorrent v1 torrent. Its
// bencoding (keys length, name, piece length, pieces; nothing else) defines
// the info hash, so the browser and the pod agree on the hash when they agree
// on these four fields.
type Info struct {
	Name        string
	Length      int64
	PieceLength int64
	Pieces      []byte // concatenated 20-byte SHA-1 hashes, one per piece
}

// Validate checks the invariants every Info this package produces holds.
func (i Info) Validate() error {
	if err := validName(i.Name); err != nil {
		return err
	}
	if i.Length <= 0 {
		return fmt.Errorf("%w: length %d", ErrInvalid, i.Length)
	}
	if i.PieceLength < BlockSize || i.PieceLength&(i.PieceLength-1) != 0 || i.PieceLength > 1<<26 {
		return fmt.Errorf("%w: piece length %d is not a power of two in [16 KiB, 64 MiB]", ErrInvalid, i.PieceLength)
	}
	if want := NumPieces(i.Length, i.PieceLength) * 20; int64(len(i.Pieces)) != want {
		return fmt.Errorf("%w: pieces is %d bytes, want %d", ErrInvalid, len(i.Pieces), want)
	}
	return nil
}

// NumPieces returns the number of pieces.
func (i Info) NumPieces() int { return int(NumPieces(i.Length, i.PieceLength)) }

// PieceHash returns the SHA-1 of piece n. It panics if n is out of range.
func (i Info) PieceHash(n int) [20]byte { return [20]byte(i.Pieces[n*20 : n*20+20]) }

// PieceSize returns the length of piece n (the last one may be short).
func (i Info) PieceSize(n int) int64 {
	if last := i.NumPieces() - 1; n == last {
		return i.Length - int64(last)*i.PieceLength
	}
	return i.PieceLength
}

func validName(name string) error {
	switch {
	case name == "" || name == "." || name == "..":
		return fmt.Errorf("%w: name %q", ErrInvalid, name)
	case len(name) > maxNameLen:
		return fmt.Errorf("%w: name longer than %d bytes", ErrInvalid, maxNameLen)
	case !utf8.ValidString(name):
		return fmt.Errorf("%w: name is not UTF-8", ErrInvalid)
	case strings.ContainsAny(name, "/\\\x00"):
		return fmt.Errorf("%w: name %q contains a path separator or NUL", ErrInvalid, name)
	}
	return nil
}

// HashReader reads exactly size bytes from r and returns their Info. It
// fails if r ends early or holds more than size bytes, and stops when ctx is
// done (checked between pieces). progress, if not nil, is called after each
// piece with the number of bytes hashed so far; it runs on the caller's
// goroutine, so it must not block for long.
func HashReader(ctx context.Context, r io.Reader, name string, size, pieceLength int64, progress func(hashed int64)) (Info, error) {
	info := Info{Name: name, Length: size, PieceLength: pieceLength}
	if err := validName(name); err != nil {
		return Info{}, err
	}
	if size <= 0 || pieceLength <= 0 {
		return Info{}, fmt.Errorf("%w: size %d, piece length %d", ErrInvalid, size, pieceLength)
	}
	info.Pieces = make([]byte, 0, NumPieces(size, pieceLength)*20)
	buf := make([]byte, pieceLength)
	h := sha1.New() //nolint:gosec // see import
	var hashed int64
	for hashed < size {
		if err := ctx.Err(); err != nil {
			return Info{}, fmt.Errorf("hash %s: %w", name, err)
		}
		n := min(pieceLength, size-hashed)
		if _, err := io.ReadFull(r, buf[:n]); err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return Info{}, fmt.Errorf("hash %s: %w: input ended after %d of %d bytes", name, ErrSizeMismatch, hashed, size)
			}
			return Info{}, fmt.Errorf("hash %s: read at %d: %w", name, hashed, err)
		}
		h.Reset()
		h.Write(buf[:n])
		info.Pieces = h.Sum(info.Pieces)
		hashed += n
		if progress != nil {
			progress(hashed)
		}
	}
	var one [1]byte
	if n, _ := io.ReadFull(r, one[:]); n != 0 {
		return Info{}, fmt.Errorf("hash %s: %w: input longer than %d bytes", name, ErrSizeMismatch, size)
	}
	return info, info.Validate()
}

// Bencode returns the canonical bencoding of the info dictionary.
func (i Info) Bencode() ([]byte, error) {
	if err := i.Validate(); err != nil {
		return nil, err
	}
	return encode(nil, i.dict())
}

func (i Info) dict() map[string]any {
	return map[string]any{
		"length":       i.Length,
		"name":         i.Name,
		"piece length": i.PieceLength,
		"pieces":       i.Pieces,
	}
}

// InfoHash returns the SHA-1 of Bencode, the torrent's v1 info hash.
func (i Info) InfoHash() ([20]byte, error) {
	b, err := i.Bencode()
	if err != nil {
		return [20]byte{}, err
	}
	return sha1.Sum(b), nil //nolint:gosec // see import
}

// Metainfo is a .torrent file (BEP 3) with an announce-list (BEP 12) and web
// seeds (BEP 19 url-list).
type Metainfo struct {
	Info         Info
	AnnounceList [][]string // tiers of tracker URLs; the first URL is also written as "announce"
	URLList      []string   // web seeds: full URLs of the file
	CreatedBy    string
	CreationDate int64 // Unix seconds; 0 omits it
	Comment      string
}

// Bencode returns the .torrent file bytes. Empty optional fields are omitted.
func (m Metainfo) Bencode() ([]byte, error) {
	info, err := m.Info.Bencode()
	if err != nil {
		return nil, err
	}
	d := map[string]any{"info": rawValue(info)}
	var tiers [][]string
	for _, tier := range m.AnnounceList {
		if len(tier) > 0 {
			tiers = append(tiers, tier)
		}
	}
	if len(tiers) > 0 {
		d["announce"] = tiers[0][0] // for clients without BEP 12
		d["announce-list"] = tiers
	}
	if len(m.URLList) > 0 {
		d["url-list"] = m.URLList
	}
	if m.CreatedBy != "" {
		d["created by"] = m.CreatedBy
	}
	if m.CreationDate != 0 {
		d["creation date"] = m.CreationDate
	}
	if m.Comment != "" {
		d["comment"] = m.Comment
	}
	return encode(nil, d)
}

// Parse decodes a .torrent file and returns it with its info hash, the SHA-1
// of the info dictionary exactly as it appears in torrentBytes. Only canonical
// single-file v1 torrents whose info dictionary holds just the four fields of
// Info are accepted (everything this package and the browser produce), so
// the returned hash always equals m.Info.InfoHash(). Unknown top-level keys
// are ignored.
func Parse(torrentBytes []byte) (Metainfo, [20]byte, error) {
	var m Metainfo
	top, err := decodeDict(torrentBytes)
	if err != nil {
		return m, [20]byte{}, fmt.Errorf("parse torrent: %w: %w", ErrInvalid, err)
	}
	rawInfo, ok := top["info"]
	if !ok {
		return m, [20]byte{}, fmt.Errorf("parse torrent: %w: no info dictionary", ErrInvalid)
	}
	if m.Info, err = parseInfo(rawInfo); err != nil {
		return m, [20]byte{}, fmt.Errorf("parse torrent: %w", err)
	}
	if raw, ok := top["announce-list"]; ok {
		tiers, err := decodeList(raw)
		if err != nil {
			return m, [20]byte{}, fmt.Errorf("parse torrent: %w: announce-list: %w", ErrInvalid, err)
		}
		for _, t := range tiers {
			tier, err := stringList(t)
			if err != nil {
				return m, [20]byte{}, fmt.Errorf("parse torrent: %w: announce-list: %w", ErrInvalid, err)
			}
			if len(tier) > 0 {
				m.AnnounceList = append(m.AnnounceList, tier)
			}
		}
	}
	if len(m.AnnounceList) == 0 { // BEP 3 only: a single announce URL
		if s, ok, err := top.string("announce"); err != nil {
			return m, [20]byte{}, fmt.Errorf("parse torrent: %w: %w", ErrInvalid, err)
		} else if ok && len(s) > 0 {
			m.AnnounceList = [][]string{{string(s)}}
		}
	}
	if raw, ok := top["url-list"]; ok {
		if raw[0] == 'l' {
			m.URLList, err = stringList(raw)
		} else { // BEP 19 allows a single string
			var s []byte
			if s, _, err = decodeString(raw, 0); err == nil && len(s) > 0 {
				m.URLList = []string{string(s)}
			}
		}
		if err != nil {
			return m, [20]byte{}, fmt.Errorf("parse torrent: %w: url-list: %w", ErrInvalid, err)
		}
	}
	strs := map[string]*string{"created by": &m.CreatedBy, "comment": &m.Comment}
	for key, dst := range strs {
		s, _, err := top.string(key)
		if err != nil {
			return m, [20]byte{}, fmt.Errorf("parse torrent: %w: %w", ErrInvalid, err)
		}
		*dst = string(s)
	}
	if m.CreationDate, _, err = top.int("creation date"); err != nil {
		return m, [20]byte{}, fmt.Errorf("parse torrent: %w: %w", ErrInvalid, err)
	}
	return m, sha1.Sum(rawInfo), nil //nolint:gosec // see import
}

func parseInfo(raw []byte) (Info, error) {
	var info Info
	d, _, err := decodeDictAt(raw, 0, 1)
	if err != nil {
		return info, fmt.Errorf("%w: info: %w", ErrInvalid, err)
	}
	if _, ok := d["files"]; ok {
		return info, fmt.Errorf("%w: multi-file torrent", ErrUnsupported)
	}
	for k := range d {
		switch k {
		case "length", "name", "piece length", "pieces":
		default:
			return info, fmt.Errorf("%w: info key %q", ErrUnsupported, k)
		}
	}
	name, _, err := d.string("name")
	if err != nil {
		return info, fmt.Errorf("%w: info: %w", ErrInvalid, err)
	}
	info.Name = string(name)
	if info.Length, _, err = d.int("length"); err != nil {
		return info, fmt.Errorf("%w: info: %w", ErrInvalid, err)
	}
	if info.PieceLength, _, err = d.int("piece length"); err != nil {
		return info, fmt.Errorf("%w: info: %w", ErrInvalid, err)
	}
	if info.Pieces, _, err = d.string("pieces"); err != nil {
		return info, fmt.Errorf("%w: info: %w", ErrInvalid, err)
	}
	info.Pieces = bytes.Clone(info.Pieces) // do not alias the caller's buffer
	if err := info.Validate(); err != nil {
		return Info{}, fmt.Errorf("info: %w", err)
	}
	// The decoder is canonical and only known keys are present, so this holds;
	// checked anyway because the promise about the hash depends on it.
	if again, err := info.Bencode(); err != nil || !bytes.Equal(again, raw) {
		return Info{}, fmt.Errorf("%w: info dictionary is not canonical", ErrInvalid)
	}
	return info, nil
}
