package wsframe

import (
	"bytes"
	"testing"

	"github.com/gobwas/ws"
)

// TestAgainstGobwas checks ParseHeader and AppendHeader against gobwas/ws's
// own header codec, for every length class, masked and not, and that a
// header cut short reports n == 0.
func TestAgainstGobwas(t *testing.T) {
	for _, tc := range []struct {
		name string
		h    ws.Header
	}{
		{"empty text", ws.Header{Fin: true, OpCode: ws.OpText}},
		{"125 binary", ws.Header{Fin: true, OpCode: ws.OpBinary, Length: 125}},
		{"126 masked", ws.Header{Fin: true, OpCode: ws.OpText, Length: 126, Masked: true, Mask: [4]byte{1, 2, 3, 4}}},
		{"65535 continuation", ws.Header{OpCode: ws.OpContinuation, Length: 65535}},
		{"65536 masked", ws.Header{Fin: true, OpCode: ws.OpText, Length: 65536, Masked: true, Mask: [4]byte{9, 8, 7, 6}}},
		{"close with rsv", ws.Header{Fin: true, Rsv: 5, OpCode: ws.OpClose, Length: 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := ws.WriteHeader(&buf, tc.h); err != nil {
				t.Fatal(err)
			}
			b := buf.Bytes()
			h, n := ParseHeader(b)
			if n != len(b) || h != tc.h {
				t.Fatalf("ParseHeader = %+v, %d; want %+v, %d", h, n, tc.h, len(b))
			}
			for cut := range len(b) {
				if _, n := ParseHeader(b[:cut]); n != 0 {
					t.Fatalf("ParseHeader of %d of %d bytes: n = %d", cut, len(b), n)
				}
			}
			if !tc.h.Masked && tc.h.Fin && tc.h.Rsv == 0 {
				if got := AppendHeader(nil, tc.h.OpCode, int(tc.h.Length)); !bytes.Equal(got, b) {
					t.Fatalf("AppendHeader = %x, want %x", got, b)
				}
			}
		})
	}
}

func FuzzParseHeader(f *testing.F) {
	f.Add([]byte{0x81, 0x85, 1, 2, 3, 4})
	f.Add([]byte{0x82, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		h, n := ParseHeader(b)
		if n < 0 || n > len(b) || n > 14 || h.Length < 0 {
			t.Fatalf("ParseHeader(%x) = %+v, %d", b, h, n)
		}
		if n > 0 {
			if g, err := ws.ReadHeader(bytes.NewReader(b)); err == nil && g != h && g.Length >= 0 {
				t.Fatalf("ParseHeader(%x) = %+v, gobwas %+v", b, h, g)
			}
		}
	})
}
