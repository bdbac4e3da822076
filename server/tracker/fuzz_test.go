package tracker

import (
	"bufio"
	"encoding/json"
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/gobwas/ws"
)

// pipeConn is a wsConn over net.Pipe, for driving the message handler
// without HTTP; every frame the tracker writes is checked to be one valid
// JSON text message.
type pipeConn struct {
	c       *wsConn
	drained sync.WaitGroup
	mu      sync.Mutex // guards bad
	bad     string
}

func newPipeConn(s *Server) *pipeConn {
	srv, cli := net.Pipe()
	p := &pipeConn{c: &wsConn{srv: s, nc: srv, wake: make(chan struct{}, 1), done: make(chan struct{})}}
	p.drained.Add(2)
	go func() { defer p.drained.Done(); p.c.writeLoop() }()
	go func() {
		defer p.drained.Done()
		br := bufio.NewReader(cli)
		for {
			f, err := ws.ReadFrame(br)
			if err != nil {
				cli.Close()
				return
			}
			if f.Header.OpCode.IsControl() { // close, or the pong of a ping
				continue
			}
			if f.Header.OpCode != ws.OpText || !json.Valid(f.Payload) {
				p.mu.Lock()
				p.bad = string(f.Payload)
				p.mu.Unlock()
			}
		}
	}()
	return p
}

func (p *pipeConn) close(t *testing.T) {
	p.c.shutdown()
	p.drained.Wait()
	if p.bad != "" {
		t.Fatalf("tracker wrote a frame that is not a JSON text message: %q", p.bad)
	}
}

// FuzzWebSocketMessage feeds arbitrary messages to the WebSocket handler
// next to a peer already in the swarm: it must never panic, must answer
// only valid JSON, and must leave the registry consistent.
func FuzzWebSocketMessage(f *testing.F) {
	seed := func(r string) { f.Add([]byte(r)) }
	ih := string(ihA.AppendJSON(nil))
	pid := string(peer2.AppendJSON(nil))
	seed(string(announce(ihA, peer2, 0, 2, 3).AppendJSON(nil)))
	seed(`{"action":"announce","info_hash":` + ih + `,"peer_id":` + pid + `,"to_peer_id":` + string(peer1.AppendJSON(nil)) + `,"answer":{"type":"answer"},"offer_id":` + ih + `}`)
	seed(`{"action":"announce","info_hash":` + ih + `,"peer_id":` + pid + `,"event":"stopped"}`)
	seed(`{"action":"scrape","info_hash":[` + ih + `,` + pid + `]}`)
	seed(`{"action":"scrape"}`)
	seed(`{"action":"announce","info_hash":"short"}`)
	seed(`{"action":` + strings.Repeat("[", 70))
	seed("\x00\xff\xfe")
	f.Fuzz(func(t *testing.T, msg []byte) {
		s, err := New(Config{AnnouncesPerSecond: -1}, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		other, p := newPipeConn(s), newPipeConn(s)
		other.c.handle([]byte(announce(ihA, peer1, 0, 2, 0).AppendJSON(nil)))
		p.c.handle(msg)
		p.c.handle(msg) // a repeat exercises the update paths
		p.close(t)
		// (The fuzzed message may have taken over or stopped peer1's entry.)
		if st := s.Stats(); st.WSPeers > 1 || st.Swarms > 1 {
			t.Fatalf("after the fuzzed peer left: %+v", st)
		}
		other.close(t)
		if st := s.Stats(); st.WSPeers != 0 || st.Swarms != 0 {
			t.Fatalf("after everyone left: %+v", st)
		}
	})
}

// FuzzWebSocketFrames feeds arbitrary bytes as the raw WebSocket stream.
func FuzzWebSocketFrames(f *testing.F) {
	mask := func(op ws.OpCode, fin bool, payload string) []byte {
		fr := ws.NewFrame(op, fin, []byte(payload))
		fr = ws.MaskFrameInPlace(fr)
		b, _ := ws.CompileFrame(fr)
		return b
	}
	f.Add(mask(ws.OpText, true, `{"action":"scrape"}`), uint16(3))
	f.Add(append(mask(ws.OpText, false, `{"action":`), mask(ws.OpContinuation, true, `"scrape"}`)...), uint16(17))
	f.Add(mask(ws.OpPing, true, "hi"), uint16(0))
	f.Add(mask(ws.OpClose, true, "\x03\xe8bye"), uint16(1))
	f.Add([]byte{0x81, 0x05, 'h', 'e', 'l', 'l', 'o'}, uint16(2)) // unmasked
	f.Add([]byte{0x82, 0xff, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff}, uint16(5))
	f.Add(mask(ws.OpText, true, strings.Repeat("x", 300)), uint16(3)) // 16-bit length, split in the header
	f.Fuzz(func(t *testing.T, stream []byte, split uint16) {
		s, err := New(Config{AnnouncesPerSecond: -1, MaxMessageBytes: 1024}, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		p := newPipeConn(s)
		// The stream arrives in two reads split anywhere, as the event
		// loop and the reader goroutine see it: feed must keep an
		// incomplete frame for the next read.
		cut := int(split) % (len(stream) + 1)
		var buf []byte
		for _, part := range [][]byte{stream[:cut], stream[cut:]} {
			buf = append(buf, part...)
			used, ok := p.c.feed(buf)
			if used < 0 || used > len(buf) {
				t.Fatalf("feed used %d of %d bytes", used, len(buf))
			}
			buf = buf[used:]
			if !ok {
				break
			}
		}
		p.close(t)
		if st := s.Stats(); st.WSPeers != 0 || st.Swarms != 0 {
			t.Fatalf("after close: %+v", st)
		}
	})
}
