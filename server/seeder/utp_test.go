package seeder

import (
	"context"
	"encoding/binary"
	"io"
	"net"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/anacrolix/utp"
)

// recordingConn keeps the payload of every uTP data packet (BEP 29:
// type ST_DATA = 0) it receives, by sequence number.
type recordingConn struct {
	net.PacketConn
	mu   sync.Mutex // guards data
	data map[uint16][]byte
}

func (r *recordingConn) ReadFrom(b []byte) (int, net.Addr, error) {
	n, addr, err := r.PacketConn.ReadFrom(b)
	if err == nil && n >= 20 && b[0]>>4 == 0 {
		p := b[:n]
		seq := binary.BigEndian.Uint16(p[16:18])
		ext, off := p[1], 20
		for ext != 0 && off+2 <= len(p) { // extension chain: next type, length, bytes
			ext, off = p[off], off+2+int(p[off+1])
		}
		if off <= len(p) {
			r.mu.Lock()
			r.data[seq] = slices.Clone(p[off:])
			r.mu.Unlock()
		}
	}
	return n, addr, err
}

// TestUTPHandshakeEndsAPacket pins the cause of issue 19 (package doc):
// over uTP, the last byte of the seeder's handshake must end a packet, so
// that the messages after it arrive in a later one. Transmission 3.00
// reads bytes that came in the packet completing its handshake only when
// another packet arrives, and the seeder then has nothing more to send.
// With the go-libutp socket anacrolix builds in under cgo, the handshake's
// last 48 bytes and the first three messages shared one packet.
func TestUTPHandshakeEndsAPacket(t *testing.T) {
	s := newSeeder(t, t.TempDir(), nil)
	path, data := randomFile(t, 1<<20, 3)
	tb, ih := makeTorrent(t, data, "v.mp4")
	if err := s.Seed(context.Background(), tb, path); err != nil {
		t.Fatal(err)
	}

	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	rec := &recordingConn{PacketConn: pc, data: map[uint16][]byte{}}
	sock, err := utp.NewSocketFromPacketConn(rec)
	if err != nil {
		t.Fatal(err)
	}
	defer sock.CloseNow()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := sock.DialContext(ctx, "udp4", net.JoinHostPort("127.0.0.1", strconv.Itoa(s.Port())))
	if err != nil {
		t.Fatalf("uTP dial to the seeder's port %d: %v", s.Port(), err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))

	// A plain handshake, as Transmission sends it with encryption
	// tolerated: extension protocol (BEP 10) and Fast (BEP 6) bits.
	hs := append([]byte("\x13BitTorrent protocol"), 0, 0, 0, 0, 0, 0x10, 0, 0x04)
	hs = append(hs, ih[:]...)
	hs = append(hs, []byte("-TR3000-clientlabtst")...)
	if _, err := c.Write(hs); err != nil {
		t.Fatal(err)
	}
	// Its handshake, then the first message (the extension handshake).
	got := make([]byte, 68+4)
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatalf("read the seeder's handshake: %v", err)
	}
	if string(got[28:48]) != string(ih[:]) {
		t.Fatalf("handshake for %x, want %x", got[28:48], ih)
	}
	msg := make([]byte, binary.BigEndian.Uint32(got[68:]))
	if _, err := io.ReadFull(c, msg); err != nil {
		t.Fatalf("read the first message: %v", err)
	}

	rec.mu.Lock()
	defer rec.mu.Unlock()
	seqs := make([]uint16, 0, len(rec.data))
	for seq := range rec.data {
		seqs = append(seqs, seq)
	}
	// Sequence numbers start at random and may wrap: order them from the
	// first one, the one whose predecessor was not received.
	var first uint16
	for _, q := range seqs {
		if _, ok := rec.data[q-1]; !ok {
			first = q
		}
	}
	slices.SortFunc(seqs, func(a, b uint16) int { return int(a-first) - int(b-first) })
	off := 0
	var sizes []int
	for _, q := range seqs {
		n := len(rec.data[q])
		sizes = append(sizes, n)
		if off < 68 && off+n > 68 {
			t.Fatalf("a uTP packet carries bytes %d-%d of the stream: the handshake's end (68) and what follows share it (packet sizes %v)", off, off+n, sizes)
		}
		off += n
	}
	if off < 68 {
		t.Fatalf("recorded %d bytes of data packets, want at least the handshake", off)
	}
	t.Logf("the seeder's first uTP data packets: %v bytes", sizes)
}
