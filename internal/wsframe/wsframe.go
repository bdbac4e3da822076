// Package wsframe parses and appends WebSocket frame headers (RFC 6455
// 5.2) in byte slices, for event loops that hold a connection's input in a
// buffer rather than behind an io.Reader.
package wsframe

import (
	"encoding/binary"
	"math"

	"github.com/gobwas/ws"
)

// ParseHeader parses the frame header at the start of b; n is its length,
// 0 while b holds only part of it. A 64-bit length above MaxInt64 is
// reported as MaxInt64 (callers bound lengths anyway).
func ParseHeader(b []byte) (h ws.Header, n int) {
	if len(b) < 2 {
		return h, 0
	}
	h.Fin = b[0]&0x80 != 0
	h.Rsv = (b[0] >> 4) & 7
	h.OpCode = ws.OpCode(b[0] & 0x0f)
	h.Masked = b[1]&0x80 != 0
	n = 2
	switch l := b[1] & 0x7f; l {
	case 126:
		if len(b) < 4 {
			return h, 0
		}
		h.Length, n = int64(binary.BigEndian.Uint16(b[2:])), 4
	case 127:
		if len(b) < 10 {
			return h, 0
		}
		h.Length, n = int64(min(binary.BigEndian.Uint64(b[2:]), math.MaxInt64)), 10
	default:
		h.Length = int64(l)
	}
	if h.Masked {
		if len(b) < n+4 {
			return h, 0
		}
		copy(h.Mask[:], b[n:n+4])
		n += 4
	}
	return h, n
}

// AppendHeader appends the header of an unmasked final frame of n bytes
// (a server's frame).
func AppendHeader(b []byte, op ws.OpCode, n int) []byte {
	b = append(b, 0x80|byte(op))
	switch {
	case n < 126:
		return append(b, byte(n))
	case n < 1<<16:
		return append(b, 126, byte(n>>8), byte(n))
	}
	return append(b, 127, byte(n>>56), byte(n>>48), byte(n>>40), byte(n>>32), byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
}
