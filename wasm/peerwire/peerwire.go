package peerwire

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/swarmtube/swarmtube/shared/torrentfile"
)

// Protocol is the handshake's protocol string.
const Protocol = "BitTorrent protocol"

// HandshakeLen is the size of a handshake on the wire.
const HandshakeLen = 1 + len(Protocol) + 8 + 20 + 20

// BlockSize is the request size every client uses; larger requests are
// refused by most peers.
const BlockSize = 16 << 10

// MaxMessageLength bounds one message (id + payload). It fits a bitfield
// for 8 million pieces and any block up to 128 KiB.
const MaxMessageLength = 1 << 20

// Sentinel errors returned by the decoders.
var (
	// ErrBadHandshake reports a handshake with the wrong protocol string.
	ErrBadHandshake = errors.New("peerwire: bad handshake")
	// ErrTooLong reports a message longer than MaxMessageLength.
	ErrTooLong = errors.New("peerwire: message too long")
	// ErrBadLength reports a message whose payload has the wrong size for its id.
	ErrBadLength = errors.New("peerwire: bad message length")
)

// Type is a message id.
type Type int

// Message ids of BEP 3 and BEP 10.
const (
	Choke         Type = 0
	Unchoke       Type = 1
	Interested    Type = 2
	NotInterested Type = 3
	Have          Type = 4
	BitfieldMsg   Type = 5
	Request       Type = 6
	Piece         Type = 7
	Cancel        Type = 8
	Extended      Type = 20
	// KeepAlive is not a wire id: it stands for a zero-length message.
	KeepAlive Type = -1
)

func (t Type) String() string {
	switch t {
	case Choke:
		return "choke"
	case Unchoke:
		return "unchoke"
	case Interested:
		return "interested"
	case NotInterested:
		return "not-interested"
	case Have:
		return "have"
	case BitfieldMsg:
		return "bitfield"
	case Request:
		return "request"
	case Piece:
		return "piece"
	case Cancel:
		return "cancel"
	case Extended:
		return "extended"
	case KeepAlive:
		return "keep-alive"
	}
	return "unknown(" + strconv.Itoa(int(t)) + ")"
}

// Handshake is the first thing each side sends.
type Handshake struct {
	Reserved [8]byte
	InfoHash [20]byte
	PeerID   [20]byte
}

// SupportsExtended reports whether the BEP 10 reserved bit is set.
func (h Handshake) SupportsExtended() bool { return h.Reserved[5]&0x10 != 0 }

// SetExtended sets the BEP 10 reserved bit.
func (h *Handshake) SetExtended() { h.Reserved[5] |= 0x10 }

// AppendBinary appends the 68-byte wire form of h to b.
func (h Handshake) AppendBinary(b []byte) []byte {
	b = append(b, byte(len(Protocol)))
	b = append(b, Protocol...)
	b = append(b, h.Reserved[:]...)
	b = append(b, h.InfoHash[:]...)
	return append(b, h.PeerID[:]...)
}

// ParseHandshake decodes a 68-byte handshake.
func ParseHandshake(b []byte) (Handshake, error) {
	var h Handshake
	if len(b) != HandshakeLen {
		return h, fmt.Errorf("%w: %d bytes", ErrBadHandshake, len(b))
	}
	if int(b[0]) != len(Protocol) || string(b[1:20]) != Protocol {
		return h, ErrBadHandshake
	}
	copy(h.Reserved[:], b[20:28])
	copy(h.InfoHash[:], b[28:48])
	copy(h.PeerID[:], b[48:68])
	return h, nil
}

// ReadHandshake reads and decodes a handshake from r.
func ReadHandshake(r io.Reader) (Handshake, error) {
	var buf [HandshakeLen]byte
	if _, err := io.ReadFull(r, buf[:]); err != nil {
		return Handshake{}, fmt.Errorf("peerwire: read handshake: %w", err)
	}
	return ParseHandshake(buf[:])
}

// Message is one decoded peer wire message. Only the fields of its Type
// are meaningful: Index for have; Index, Begin, Length for request and
// cancel; Index, Begin, Block for piece; Bitfield; ExtendedID, Payload for
// extended. Decoded slices alias the decoder's buffer until the next
// Decode call.
type Message struct {
	Type       Type
	Index      uint32
	Begin      uint32
	Length     uint32
	Bitfield   []byte
	Block      []byte
	ExtendedID byte
	Payload    []byte
}

// AppendBinary appends the length-prefixed wire form of m to b.
func (m Message) AppendBinary(b []byte) []byte {
	put := func(v uint32) { b = binary.BigEndian.AppendUint32(b, v) }
	switch m.Type {
	case KeepAlive:
		put(0)
	case Choke, Unchoke, Interested, NotInterested:
		put(1)
		b = append(b, byte(m.Type))
	case Have:
		put(5)
		b = append(b, byte(m.Type))
		put(m.Index)
	case BitfieldMsg:
		put(uint32(1 + len(m.Bitfield)))
		b = append(b, byte(m.Type))
		b = append(b, m.Bitfield...)
	case Request, Cancel:
		put(13)
		b = append(b, byte(m.Type))
		put(m.Index)
		put(m.Begin)
		put(m.Length)
	case Piece:
		put(uint32(9 + len(m.Block)))
		b = append(b, byte(m.Type))
		put(m.Index)
		put(m.Begin)
		b = append(b, m.Block...)
	case Extended:
		put(uint32(2 + len(m.Payload)))
		b = append(b, byte(m.Type), m.ExtendedID)
		b = append(b, m.Payload...)
	default:
		put(uint32(1 + len(m.Payload)))
		b = append(b, byte(m.Type))
		b = append(b, m.Payload...)
	}
	return b
}

// ParseMessage decodes one message body (id and payload, without the
// length prefix); an empty body is a keep-alive. The result aliases body.
func ParseMessage(body []byte) (Message, error) {
	if len(body) == 0 {
		return Message{Type: KeepAlive}, nil
	}
	if len(body) > MaxMessageLength {
		return Message{}, ErrTooLong
	}
	m := Message{Type: Type(body[0])}
	p := body[1:]
	u32 := func(i int) uint32 { return binary.BigEndian.Uint32(p[4*i:]) }
	want := func(n int) error {
		if len(p) != n {
			return fmt.Errorf("%w: %s with %d payload bytes", ErrBadLength, m.Type, len(p))
		}
		return nil
	}
	switch m.Type {
	case Choke, Unchoke, Interested, NotInterested:
		return m, want(0)
	case Have:
		if err := want(4); err != nil {
			return Message{}, err
		}
		m.Index = u32(0)
	case BitfieldMsg:
		m.Bitfield = p
	case Request, Cancel:
		if err := want(12); err != nil {
			return Message{}, err
		}
		m.Index, m.Begin, m.Length = u32(0), u32(1), u32(2)
	case Piece:
		if len(p) < 8 {
			return Message{}, fmt.Errorf("%w: piece with %d payload bytes", ErrBadLength, len(p))
		}
		m.Index, m.Begin, m.Block = u32(0), u32(1), p[8:]
	case Extended:
		if len(p) < 1 {
			return Message{}, fmt.Errorf("%w: empty extended message", ErrBadLength)
		}
		m.ExtendedID, m.Payload = p[0], p[1:]
	default:
		m.Payload = p
	}
	return m, nil
}

// Decoder reads messages from a stream. It is not safe for concurrent use.
type Decoder struct {
	r   *bufio.Reader
	buf []byte
}

// NewDecoder returns a Decoder reading from r.
func NewDecoder(r io.Reader) *Decoder {
	return &Decoder{r: bufio.NewReaderSize(r, 32<<10)}
}

// Reader exposes the buffered reader, so a caller can read the handshake
// through the same buffer before decoding messages.
func (d *Decoder) Reader() *bufio.Reader { return d.r }

// Decode reads the next message. The returned slices alias an internal
// buffer that the next call overwrites.
func (d *Decoder) Decode() (Message, error) {
	var lb [4]byte
	if _, err := io.ReadFull(d.r, lb[:]); err != nil {
		return Message{}, err
	}
	n := binary.BigEndian.Uint32(lb[:])
	if n > MaxMessageLength {
		return Message{}, fmt.Errorf("%w: %d bytes", ErrTooLong, n)
	}
	if cap(d.buf) < int(n) {
		d.buf = make([]byte, n)
	}
	d.buf = d.buf[:n]
	if _, err := io.ReadFull(d.r, d.buf); err != nil {
		return Message{}, fmt.Errorf("peerwire: read %d-byte message: %w", n, noEOF(err))
	}
	return ParseMessage(d.buf)
}

func noEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// Bitfield is a set of piece indexes in wire order (high bit of byte 0 is
// piece 0).
type Bitfield []byte

// NewBitfield returns an empty bitfield for n pieces.
func NewBitfield(n int) Bitfield { return make(Bitfield, (n+7)/8) }

// Has reports whether piece i is set; out-of-range indexes are unset.
func (b Bitfield) Has(i int) bool {
	if i < 0 || i/8 >= len(b) {
		return false
	}
	return b[i/8]&(0x80>>(i%8)) != 0
}

// Set sets piece i; out-of-range indexes are ignored.
func (b Bitfield) Set(i int) {
	if i >= 0 && i/8 < len(b) {
		b[i/8] |= 0x80 >> (i % 8)
	}
}

// Clear unsets piece i.
func (b Bitfield) Clear(i int) {
	if i >= 0 && i/8 < len(b) {
		b[i/8] &^= 0x80 >> (i % 8)
	}
}

// Count returns the number of set pieces among the first n.
func (b Bitfield) Count(n int) int {
	c := 0
	for i := 0; i < n; i++ {
		if b.Has(i) {
			c++
		}
	}
	return c
}

// ValidFor reports whether b is a well-formed bitfield for n pieces: the
// right length and no spare bits set (BEP 3 says drop such a peer).
func (b Bitfield) ValidFor(n int) bool {
	if len(b) != (n+7)/8 {
		return false
	}
	for i := n; i < len(b)*8; i++ {
		if b.Has(i) {
			return false
		}
	}
	return true
}

// ExtendedHandshake is the part of the BEP 10 handshake dictionary the
// engine sends and reads: the extension name → id map ("m"), the client
// name ("v") and the request queue length it accepts ("reqq").
type ExtendedHandshake struct {
	M    map[string]int
	V    string
	Reqq int
}

// Encode returns the bencoded dictionary (keys sorted, as bencode requires),
// written by the same encoder as the torrents (torrentfile.AppendBencode).
func (h ExtendedHandshake) Encode() []byte {
	m := make(map[string]any, len(h.M))
	for k, id := range h.M {
		m[k] = id
	}
	d := map[string]any{"m": m}
	if h.Reqq > 0 {
		d["reqq"] = h.Reqq
	}
	if h.V != "" {
		d["v"] = h.V
	}
	b, err := torrentfile.AppendBencode(nil, d)
	if err != nil {
		panic(err) // unreachable: only ints, strings and maps of them
	}
	return b
}

// ParseExtendedHandshake reads a peer's BEP 10 handshake dictionary (the
// payload of extended message 0): "m" (extension name → the id the peer
// wants those messages sent with; 0 means it dropped one), "v" and "reqq".
// Keys it does not know are ignored; a malformed dictionary is an error.
func ParseExtendedHandshake(payload []byte) (ExtendedHandshake, error) {
	var h ExtendedHandshake
	d, err := torrentfile.DecodeDict(payload)
	if err != nil {
		return h, fmt.Errorf("peerwire: extended handshake: %w", err)
	}
	if m, ok, err := d.Dict("m"); err != nil {
		return h, fmt.Errorf("peerwire: extended handshake: %w", err)
	} else if ok {
		h.M = make(map[string]int, len(m))
		for name := range m {
			id, _, err := m.Int(name)
			if err != nil || id < 0 || id > 255 {
				return h, fmt.Errorf("peerwire: extended handshake: extension %q has no id in 0..255", name)
			}
			h.M[name] = int(id)
		}
	}
	if v, ok, err := d.String("v"); err == nil && ok {
		h.V = string(v)
	}
	if n, ok, err := d.Int("reqq"); err == nil && ok && n > 0 && n <= 1<<20 {
		h.Reqq = int(n)
	}
	return h, nil
}

// PodStateExtension is the BEP 10 name of Swarmtube's pod-state message,
// which browser peers exchange so that the pod sends a piece that several
// of them need once (wasm/swarm's package doc, "The pod budget").
const PodStateExtension = "swarmtube_pod"

// PodState is what a browser peer tells its peers about its use of the
// pod: its playhead (At, a byte offset of the file), the end of its pod
// horizon (End: it may ask the pod for pieces in [At, End) when it needs
// them), whether it is paused, and the pieces it is fetching from the pod
// right now. Encoded as a bencoded dictionary {"at", "end", "f" (list of
// piece indices), "p" (1 when paused)}.
type PodState struct {
	At, End  int64
	Paused   bool
	Fetching []int
}

// maxPodFetching bounds the pieces a PodState may list (a peer fetches a
// few at a time; more is hostile).
const maxPodFetching = 64

// Encode returns the bencoded dictionary.
func (s PodState) Encode() []byte {
	f := make([]any, 0, len(s.Fetching))
	for _, i := range s.Fetching {
		f = append(f, i)
	}
	p := 0
	if s.Paused {
		p = 1
	}
	b, err := torrentfile.AppendBencode(nil, map[string]any{"at": s.At, "end": s.End, "f": f, "p": p})
	if err != nil {
		panic(err) // unreachable: only ints and lists of them
	}
	return b
}

// ParsePodState decodes a PodState; numPieces bounds the piece indices.
func ParsePodState(payload []byte, numPieces int) (PodState, error) {
	var s PodState
	d, err := torrentfile.DecodeDict(payload)
	if err != nil {
		return s, fmt.Errorf("peerwire: pod state: %w", err)
	}
	at, _, err1 := d.Int("at")
	end, _, err2 := d.Int("end")
	p, _, err3 := d.Int("p")
	f, _, err4 := d.Ints("f")
	if err := errors.Join(err1, err2, err3, err4); err != nil {
		return s, fmt.Errorf("peerwire: pod state: %w", err)
	}
	if at < 0 || end < at || len(f) > maxPodFetching {
		return s, fmt.Errorf("peerwire: pod state: at %d, end %d, %d pieces fetched", at, end, len(f))
	}
	s.At, s.End, s.Paused = at, end, p == 1
	for _, i := range f {
		if i < 0 || i >= int64(numPieces) {
			return s, fmt.Errorf("peerwire: pod state: piece %d of %d", i, numPieces)
		}
		s.Fetching = append(s.Fetching, int(i))
	}
	return s, nil
}
