package peerwire

import (
	"bytes"
	"errors"
	"io"
	"reflect"
	"testing"
)

var roundTrip = []struct {
	name string
	msg  Message
	wire []byte
}{
	{"keep-alive", Message{Type: KeepAlive}, []byte{0, 0, 0, 0}},
	{"choke", Message{Type: Choke}, []byte{0, 0, 0, 1, 0}},
	{"unchoke", Message{Type: Unchoke}, []byte{0, 0, 0, 1, 1}},
	{"interested", Message{Type: Interested}, []byte{0, 0, 0, 1, 2}},
	{"not-interested", Message{Type: NotInterested}, []byte{0, 0, 0, 1, 3}},
	{"have", Message{Type: Have, Index: 0x01020304}, []byte{0, 0, 0, 5, 4, 1, 2, 3, 4}},
	{"bitfield", Message{Type: BitfieldMsg, Bitfield: []byte{0xa0, 0x80}}, []byte{0, 0, 0, 3, 5, 0xa0, 0x80}},
	{"request", Message{Type: Request, Index: 1, Begin: 16384, Length: 16384},
		[]byte{0, 0, 0, 13, 6, 0, 0, 0, 1, 0, 0, 0x40, 0, 0, 0, 0x40, 0}},
	{"cancel", Message{Type: Cancel, Index: 2, Begin: 0, Length: 5},
		[]byte{0, 0, 0, 13, 8, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 5}},
	{"piece", Message{Type: Piece, Index: 3, Begin: 7, Block: []byte("abc")},
		[]byte{0, 0, 0, 12, 7, 0, 0, 0, 3, 0, 0, 0, 7, 'a', 'b', 'c'}},
	{"extended", Message{Type: Extended, ExtendedID: 0, Payload: []byte("de")},
		[]byte{0, 0, 0, 4, 20, 0, 'd', 'e'}},
	{"unknown port", Message{Type: 9, Payload: []byte{0x1a, 0xe1}}, []byte{0, 0, 0, 3, 9, 0x1a, 0xe1}},
}

func TestMessageRoundTrip(t *testing.T) {
	t.Parallel()
	for _, tc := range roundTrip {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.msg.AppendBinary(nil)
			if !bytes.Equal(got, tc.wire) {
				t.Fatalf("encode = %x, want %x", got, tc.wire)
			}
			m, err := NewDecoder(bytes.NewReader(tc.wire)).Decode()
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			if !equalMsg(m, tc.msg) {
				t.Fatalf("decode = %+v, want %+v", m, tc.msg)
			}
		})
	}
}

func equalMsg(a, b Message) bool {
	norm := func(m Message) Message {
		for _, s := range []*[]byte{&m.Bitfield, &m.Block, &m.Payload} {
			if len(*s) == 0 {
				*s = nil
			}
		}
		return m
	}
	return reflect.DeepEqual(norm(a), norm(b))
}

func TestDecodeErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		wire []byte
		want error
	}{
		{"too long", []byte{0, 0x20, 0, 0, 7}, ErrTooLong},
		{"have short", []byte{0, 0, 0, 3, 4, 0, 0}, ErrBadLength},
		{"request long", []byte{0, 0, 0, 14, 6, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0}, ErrBadLength},
		{"choke with payload", []byte{0, 0, 0, 2, 0, 1}, ErrBadLength},
		{"piece short", []byte{0, 0, 0, 5, 7, 0, 0, 0, 1}, ErrBadLength},
		{"extended empty", []byte{0, 0, 0, 1, 20}, ErrBadLength},
		{"truncated body", []byte{0, 0, 0, 5, 4, 0}, io.ErrUnexpectedEOF},
		{"eof", nil, io.EOF},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewDecoder(bytes.NewReader(tc.wire)).Decode()
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestHandshake(t *testing.T) {
	t.Parallel()
	h := Handshake{}
	h.SetExtended()
	copy(h.InfoHash[:], "0123456789abcdefghij")
	copy(h.PeerID[:], "-ST0001-xxxxxxxxxxxx")
	wire := h.AppendBinary(nil)
	if len(wire) != HandshakeLen {
		t.Fatalf("len = %d", len(wire))
	}
	got, err := ReadHandshake(bytes.NewReader(wire))
	if err != nil || got != h || !got.SupportsExtended() {
		t.Fatalf("got %+v, %v", got, err)
	}
	wire[3] = 'X'
	if _, err := ParseHandshake(wire); !errors.Is(err, ErrBadHandshake) {
		t.Fatalf("corrupt protocol: err = %v", err)
	}
	if _, err := ReadHandshake(bytes.NewReader(wire[:10])); err == nil {
		t.Fatal("short handshake accepted")
	}
}

func TestBitfield(t *testing.T) {
	t.Parallel()
	b := NewBitfield(10)
	for _, i := range []int{0, 7, 9, -1, 100} {
		b.Set(i)
	}
	if !bytes.Equal(b, []byte{0x81, 0x40}) || b.Count(10) != 3 {
		t.Fatalf("bitfield = %x", []byte(b))
	}
	if !b.ValidFor(10) || b.ValidFor(9) || b.ValidFor(17) {
		t.Fatal("ValidFor wrong")
	}
	b.Clear(9)
	if b.Has(9) || !b.Has(7) || b.Has(100) {
		t.Fatal("Clear/Has wrong")
	}
}

func TestExtendedHandshakeEncode(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		h    ExtendedHandshake
		want string
	}{
		{"empty", ExtendedHandshake{}, "d1:mdee"},
		{"full", ExtendedHandshake{M: map[string]int{"ut_pex": 2, "ut_metadata": 1}, V: "swarmtube", Reqq: 250},
			"d1:md11:ut_metadatai1e6:ut_pexi2ee4:reqqi250e1:v9:swarmtubee"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := string(tc.h.Encode()); got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func FuzzDecode(f *testing.F) {
	for _, tc := range roundTrip {
		f.Add(tc.wire)
	}
	f.Add([]byte{0, 0, 0, 3, 4, 0, 0})
	f.Fuzz(func(t *testing.T, wire []byte) {
		d := NewDecoder(bytes.NewReader(wire))
		for {
			m, err := d.Decode()
			if err != nil {
				return
			}
			// Whatever decodes must re-encode to a message that decodes the same.
			again, err := NewDecoder(bytes.NewReader(m.AppendBinary(nil))).Decode()
			if err != nil || !equalMsg(again, m) {
				t.Fatalf("re-decode of %+v = %+v, %v", m, again, err)
			}
		}
	})
}

func FuzzParseHandshake(f *testing.F) {
	f.Add(Handshake{}.AppendBinary(nil))
	f.Add([]byte("garbage"))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := ParseHandshake(b)
		if err == nil && !bytes.Equal(h.AppendBinary(nil), b) {
			t.Fatalf("handshake did not round-trip")
		}
	})
}

func TestExtendedHandshakeAndPodState(t *testing.T) {
	t.Parallel()
	h, err := ParseExtendedHandshake(ExtendedHandshake{M: map[string]int{PodStateExtension: 3, "ut_metadata": 2}, V: "Swarmtube 0.1", Reqq: 250}.Encode())
	if err != nil || h.M[PodStateExtension] != 3 || h.M["ut_metadata"] != 2 || h.V != "Swarmtube 0.1" || h.Reqq != 250 {
		t.Fatalf("round trip: %+v, %v", h, err)
	}
	// WebTorrent's handshake, as it sends it (keys sorted, extra keys).
	if h, err := ParseExtendedHandshake([]byte("d1:md11:ut_metadatai1e6:ut_pexi2ee13:metadata_sizei1234e1:v10:WebTorrente")); err != nil || h.M["ut_pex"] != 2 || h.M[PodStateExtension] != 0 {
		t.Errorf("webtorrent handshake: %+v, %v", h, err)
	}
	for _, bad := range []string{"", "d", "d1:mi3ee", "d1:md1:xi300eee", "d1:md1:x1:yee", "le"} {
		if _, err := ParseExtendedHandshake([]byte(bad)); err == nil {
			t.Errorf("extended handshake %q: no error", bad)
		}
	}
	s := PodState{At: 1 << 20, End: 9 << 20, Paused: true, Fetching: []int{4, 5}}
	got, err := ParsePodState(s.Encode(), 64)
	if err != nil || got.At != s.At || got.End != s.End || !got.Paused || len(got.Fetching) != 2 || got.Fetching[1] != 5 {
		t.Fatalf("pod state round trip: %+v, %v", got, err)
	}
	for name, bad := range map[string]PodState{
		"piece out of range": {At: 0, End: 10, Fetching: []int{64}},
		"end before at":      {At: 10, End: 5},
		"negative at":        {At: -1, End: 5},
	} {
		if _, err := ParsePodState(bad.Encode(), 64); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func FuzzParsePodState(f *testing.F) {
	f.Add(PodState{At: 5, End: 10, Fetching: []int{1, 2}}.Encode())
	f.Add([]byte("d2:ati1e3:endi0ee"))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := ParsePodState(b, 100)
		if err != nil {
			return
		}
		again, err := ParsePodState(s.Encode(), 100)
		if err != nil || again.At != s.At || again.End != s.End || again.Paused != s.Paused || len(again.Fetching) != len(s.Fetching) {
			t.Fatalf("%+v re-parsed as %+v, %v", s, again, err)
		}
	})
}

func FuzzParseExtendedHandshake(f *testing.F) {
	f.Add(ExtendedHandshake{M: map[string]int{PodStateExtension: 1}, V: "x", Reqq: 5}.Encode())
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = ParseExtendedHandshake(b) // must not panic
	})
}
