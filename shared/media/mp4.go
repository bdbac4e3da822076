package media

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Limits on what PlanFaststart holds in memory.
const (
	// MaxMoovSize bounds the moov box read into memory. A two-hour film has a
	// moov of a few MiB; this leaves room for very long or odd files.
	MaxMoovSize = 64 << 20
	// maxMoovBoxes bounds the boxes parsed inside moov (each costs a node):
	// real files have a few dozen per track.
	maxMoovBoxes = 1 << 16
	// MaxTopLevelBoxes bounds the top-level box list (normal files have a
	// handful; fragmented ones a few thousand).
	MaxTopLevelBoxes = 1 << 20
	// maxDepth bounds container nesting inside moov.
	maxDepth = 16
)

// Box is one box found in a file: its type, where it starts, its total size
// (header included) and the size of its header (8, or 16 with a 64-bit size).
type Box struct {
	Type   string
	Offset int64
	Size   int64
	Header int64
}

// End returns the offset just past the box.
func (b Box) End() int64 { return b.Offset + b.Size }

// readBoxHeader reads the header of the box at off; the box must end by
// limit. A size of 0 means "up to limit", as ISO/IEC 14496-12 allows.
func readBoxHeader(r io.ReaderAt, off, limit int64) (Box, error) {
	var h [16]byte
	if limit-off < 8 {
		return Box{}, fmt.Errorf("%w: %d stray bytes at offset %d", ErrMalformed, limit-off, off)
	}
	if _, err := r.ReadAt(h[:8], off); err != nil {
		return Box{}, fmt.Errorf("media: read box header at %d: %w", off, eofIsMalformed(err))
	}
	b := Box{Type: string(h[4:8]), Offset: off, Header: 8}
	size := int64(binary.BigEndian.Uint32(h[:4]))
	switch size {
	case 0:
		size = limit - off
	case 1:
		if limit-off < 16 {
			return Box{}, fmt.Errorf("%w: truncated 64-bit box size at offset %d", ErrMalformed, off)
		}
		if _, err := r.ReadAt(h[8:16], off+8); err != nil {
			return Box{}, fmt.Errorf("media: read box header at %d: %w", off, eofIsMalformed(err))
		}
		large := binary.BigEndian.Uint64(h[8:16])
		if large > uint64(limit-off) {
			return Box{}, fmt.Errorf("%w: box %q at %d overruns its parent", ErrMalformed, b.Type, off)
		}
		size, b.Header = int64(large), 16
	}
	if size < b.Header || size > limit-off {
		return Box{}, fmt.Errorf("%w: box %q at %d has size %d (room for %d)", ErrMalformed, b.Type, off, size, limit-off)
	}
	b.Size = size
	return b, nil
}

func eofIsMalformed(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%w: file ends inside a box", ErrMalformed)
	}
	return err
}

// TopLevelBoxes lists the boxes at the top of an MP4 file of size bytes. It
// reads only box headers.
func TopLevelBoxes(r io.ReaderAt, size int64) ([]Box, error) {
	var boxes []Box
	for off := int64(0); off < size; {
		if len(boxes) == MaxTopLevelBoxes {
			return nil, fmt.Errorf("%w: more than %d top-level boxes", ErrTooLarge, MaxTopLevelBoxes)
		}
		b, err := readBoxHeader(r, off, size)
		if err != nil {
			return nil, err
		}
		boxes = append(boxes, b)
		off = b.End()
	}
	return boxes, nil
}

// node is a box of the moov tree held in memory: containers on the path to
// the chunk offset tables are parsed into children, everything else is kept
// as its raw payload.
type node struct {
	typ      string
	large    bool   // the header used a 64-bit size; kept so unchanged boxes re-encode byte for byte
	payload  []byte // leaf boxes: the bytes after the header
	children []*node
	offsets  []uint64 // stco/co64: the decoded chunk offsets
	extra    []byte   // stco/co64: bytes after the table, preserved
	version  [4]byte  // stco/co64: version and flags
}

// containers are the boxes PlanFaststart descends into: the path
// moov/trak/mdia/minf/stbl that leads to the chunk offset tables.
var containers = map[string]bool{"moov": true, "trak": true, "mdia": true, "minf": true, "stbl": true}

// parseTree parses the payload of a container box of type typ.
func parseTree(typ string, large bool, payload []byte, depth int) (*node, error) {
	budget := maxMoovBoxes
	return parseBox(typ, large, payload, depth, &budget)
}

func parseBox(typ string, large bool, payload []byte, depth int, budget *int) (*node, error) {
	if *budget--; *budget < 0 {
		return nil, fmt.Errorf("%w: more than %d boxes in moov", ErrTooLarge, maxMoovBoxes)
	}
	n := &node{typ: typ, large: large}
	if !containers[typ] {
		n.payload = payload
		return n, nil
	}
	if depth > maxDepth {
		return nil, fmt.Errorf("%w: boxes nested deeper than %d", ErrMalformed, maxDepth)
	}
	for off := 0; off < len(payload); {
		rest := payload[off:]
		if len(rest) < 8 {
			return nil, fmt.Errorf("%w: %d stray bytes in %q", ErrMalformed, len(rest), typ)
		}
		size := uint64(binary.BigEndian.Uint32(rest[:4]))
		ctyp := string(rest[4:8])
		hdr, clarge := uint64(8), false
		switch size {
		case 0:
			size = uint64(len(rest))
		case 1:
			if len(rest) < 16 {
				return nil, fmt.Errorf("%w: truncated 64-bit size in %q", ErrMalformed, typ)
			}
			size, hdr, clarge = binary.BigEndian.Uint64(rest[8:16]), 16, true
		}
		if size < hdr || size > uint64(len(rest)) {
			return nil, fmt.Errorf("%w: box %q in %q has size %d (room for %d)", ErrMalformed, ctyp, typ, size, len(rest))
		}
		body := rest[hdr:size]
		var child *node
		var err error
		switch ctyp {
		case "stco", "co64":
			if *budget--; *budget < 0 {
				return nil, fmt.Errorf("%w: more than %d boxes in moov", ErrTooLarge, maxMoovBoxes)
			}
			child, err = parseChunkOffsets(ctyp, clarge, body)
		default:
			child, err = parseBox(ctyp, clarge, body, depth+1, budget)
		}
		if err != nil {
			return nil, err
		}
		n.children = append(n.children, child)
		off += int(size)
	}
	return n, nil
}

func parseChunkOffsets(typ string, large bool, body []byte) (*node, error) {
	if len(body) < 8 {
		return nil, fmt.Errorf("%w: %q too short", ErrMalformed, typ)
	}
	width := 4
	if typ == "co64" {
		width = 8
	}
	count := uint64(binary.BigEndian.Uint32(body[4:8]))
	if count > uint64(len(body)-8)/uint64(width) {
		return nil, fmt.Errorf("%w: %q claims %d entries in %d bytes", ErrMalformed, typ, count, len(body))
	}
	n := &node{typ: typ, large: large, offsets: make([]uint64, count)}
	copy(n.version[:], body[:4])
	tab := body[8:]
	for i := range n.offsets {
		if width == 4 {
			n.offsets[i] = uint64(binary.BigEndian.Uint32(tab[i*4:]))
		} else {
			n.offsets[i] = binary.BigEndian.Uint64(tab[i*8:])
		}
	}
	n.extra = tab[int(count)*width:]
	return n, nil
}

// walkOffsets calls fn for every chunk offset table in the tree.
func (n *node) walkOffsets(fn func(*node)) {
	if n.typ == "stco" || n.typ == "co64" {
		fn(n)
	}
	for _, c := range n.children {
		c.walkOffsets(fn)
	}
}

// payloadSize is the encoded size of the box's content, header excluded.
func (n *node) payloadSize() uint64 {
	switch n.typ {
	case "stco":
		return 8 + 4*uint64(len(n.offsets)) + uint64(len(n.extra))
	case "co64":
		return 8 + 8*uint64(len(n.offsets)) + uint64(len(n.extra))
	}
	if n.children == nil {
		return uint64(len(n.payload))
	}
	var s uint64
	for _, c := range n.children {
		s += c.size()
	}
	return s
}

// size is the encoded size of the box, header included.
func (n *node) size() uint64 {
	p := n.payloadSize()
	if n.large || p+8 > 0xFFFFFFFF {
		return p + 16
	}
	return p + 8
}

// encode appends the box to buf.
func (n *node) encode(buf []byte) []byte {
	size := n.size()
	if size-n.payloadSize() == 16 {
		buf = binary.BigEndian.AppendUint32(buf, 1)
		buf = append(buf, n.typ...)
		buf = binary.BigEndian.AppendUint64(buf, size)
	} else {
		buf = binary.BigEndian.AppendUint32(buf, uint32(size))
		buf = append(buf, n.typ...)
	}
	switch n.typ {
	case "stco", "co64":
		buf = append(buf, n.version[:]...)
		buf = binary.BigEndian.AppendUint32(buf, uint32(len(n.offsets)))
		for _, o := range n.offsets {
			if n.typ == "stco" {
				buf = binary.BigEndian.AppendUint32(buf, uint32(o))
			} else {
				buf = binary.BigEndian.AppendUint64(buf, o)
			}
		}
		return append(buf, n.extra...)
	}
	if n.children == nil {
		return append(buf, n.payload...)
	}
	for _, c := range n.children {
		buf = c.encode(buf)
	}
	return buf
}
