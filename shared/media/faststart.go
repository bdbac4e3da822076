package media

import (
	"bytes"
	"fmt"
	"io"
	"math"
)

// Layout describes an MP4 file with its moov box in front. It keeps a
// reference to the source and the rewritten moov only, so streaming it
// costs no more memory than the moov itself.
type Layout struct {
	src      io.ReaderAt
	srcSize  int64
	rewrite  bool
	segments []segment
	size     int64
}

// segment is either a range of the source or literal bytes (the new moov).
type segment struct {
	off, n int64
	data   []byte
}

// NeedsRewrite reports whether the output differs from the input (moov was
// after the media data).
func (l *Layout) NeedsRewrite() bool { return l.rewrite }

// Size is the length of the output in bytes. It exceeds the input's only when
// 32-bit chunk offset tables had to be widened to 64 bits.
func (l *Layout) Size() int64 { return l.size }

// Reader returns a new reader of the output file, reading the source as it
// goes. Each call starts from the beginning.
func (l *Layout) Reader() io.Reader {
	if !l.rewrite {
		return io.NewSectionReader(l.src, 0, l.srcSize)
	}
	rs := make([]io.Reader, 0, len(l.segments))
	for _, s := range l.segments {
		if s.data != nil {
			rs = append(rs, bytes.NewReader(s.data))
		} else {
			rs = append(rs, io.NewSectionReader(l.src, s.off, s.n))
		}
	}
	return io.MultiReader(rs...)
}

// PlanFaststart inspects the MP4 file in r (size bytes) and returns the
// layout with moov before the first mdat. It reads the top-level box headers
// and the moov box, nothing else. A file whose structure is broken, or that
// has no moov or several, yields an error wrapping ErrMalformed.
func PlanFaststart(r io.ReaderAt, size int64) (*Layout, error) {
	l := &Layout{src: r, srcSize: size, size: size}
	boxes, err := TopLevelBoxes(r, size)
	if err != nil {
		return nil, err
	}
	moovIdx, mdatIdx := -1, -1
	fragmented := false
	for i, b := range boxes {
		switch b.Type {
		case "moov":
			if moovIdx >= 0 {
				return nil, fmt.Errorf("%w: more than one moov box", ErrMalformed)
			}
			moovIdx = i
		case "mdat":
			if mdatIdx < 0 {
				mdatIdx = i
			}
		case "moof":
			fragmented = true
		}
	}
	if moovIdx < 0 {
		return nil, fmt.Errorf("%w: no moov box (the file is incomplete or not a playable MP4)", ErrMalformed)
	}
	moov := boxes[moovIdx]
	if moov.Size > MaxMoovSize {
		return nil, fmt.Errorf("%w: moov box of %d bytes (limit %d)", ErrTooLarge, moov.Size, MaxMoovSize)
	}
	// The moov is parsed even when it stays in place: a broken index would
	// make the video unplayable, so it is refused here rather than served.
	raw := make([]byte, moov.Size-moov.Header)
	if _, err := r.ReadAt(raw, moov.Offset+moov.Header); err != nil {
		return nil, fmt.Errorf("media: read moov: %w", eofIsMalformed(err))
	}
	tree, err := parseTree("moov", moov.Header == 16, raw, 0)
	if err != nil {
		return nil, err
	}
	if mdatIdx < 0 || moovIdx < mdatIdx || fragmented {
		// Already streamable, or fragmented (moof offsets are relative to
		// their fragments and a fragmented file's moov is first anyway).
		return l, nil
	}
	var tables []*node
	tree.walkOffsets(func(n *node) { tables = append(tables, n) })
	orig := make([][]uint64, len(tables))
	for i, t := range tables {
		orig[i] = append([]uint64(nil), t.offsets...)
	}

	insert := boxes[mdatIdx].Offset // the new moov goes here
	oldStart, oldEnd := moov.Offset, moov.End()
	// relocate maps an offset of the input to the output for a moov of
	// newSize bytes: bytes between the insertion point and the old moov move
	// forward by the new moov; bytes after the old moov move by the growth.
	relocate := func(o uint64, newSize int64) (uint64, error) {
		switch {
		case o < uint64(insert):
			return o, nil
		case o < uint64(oldStart):
			return o + uint64(newSize), nil
		case o < uint64(oldEnd):
			return 0, fmt.Errorf("%w: a chunk offset points inside moov", ErrMalformed)
		default:
			return o + uint64(newSize-moov.Size), nil
		}
	}
	apply := func(newSize int64) (fits bool, err error) {
		fits = true
		for i, t := range tables {
			for j, o := range orig[i] {
				no, err := relocate(o, newSize)
				if err != nil {
					return false, err
				}
				if no < o { // wrapped around 2^64
					return false, fmt.Errorf("%w: chunk offset %d out of range", ErrMalformed, o)
				}
				if t.typ == "stco" && no > math.MaxUint32 {
					fits = false
				}
				t.offsets[j] = no
			}
		}
		return fits, nil
	}
	newSize := int64(tree.size())
	fits, err := apply(newSize)
	if err != nil {
		return nil, err
	}
	if !fits {
		for _, t := range tables {
			t.typ = "co64"
		}
		newSize = int64(tree.size())
		if _, err := apply(newSize); err != nil {
			return nil, err
		}
	}
	if newSize > MaxMoovSize+MaxMoovSize { // widening at most doubles the tables
		return nil, fmt.Errorf("%w: rewritten moov of %d bytes", ErrTooLarge, newSize)
	}
	enc := tree.encode(make([]byte, 0, newSize))
	l.rewrite = true
	l.segments = []segment{
		{off: 0, n: insert},
		{data: enc, n: int64(len(enc))},
		{off: insert, n: oldStart - insert},
		{off: oldEnd, n: size - oldEnd},
	}
	l.size = size + newSize - moov.Size
	return l, nil
}

// Faststart writes the MP4 in r (size bytes) to w with moov first. It
// reports whether anything moved and how many bytes it wrote; when nothing
// needs to move it copies the input unchanged.
func Faststart(w io.Writer, r io.ReaderAt, size int64) (rewritten bool, n int64, err error) {
	l, err := PlanFaststart(r, size)
	if err != nil {
		return false, 0, err
	}
	n, err = io.Copy(w, l.Reader())
	if err != nil {
		return l.rewrite, n, fmt.Errorf("media: faststart copy: %w", err)
	}
	return l.rewrite, n, nil
}
