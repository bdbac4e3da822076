package tracker

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/anacrolix/torrent/bencode"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"nhooyr.io/websocket"

	"github.com/swarmtube/swarmtube/internal/testenv"
	"github.com/swarmtube/swarmtube/shared/trackerproto"
)

type testTracker struct {
	srv  *Server
	http *httptest.Server
	reg  *prometheus.Registry
}

func (tt *testTracker) wsURL() string {
	return "ws" + strings.TrimPrefix(tt.http.URL, "http") + "/tracker/socket"
}

// goroutineDriver makes newTestTracker serve WebSockets with goroutines
// instead of the event loop (TestGoroutineDriver).
var goroutineDriver bool

func newTestTracker(t *testing.T, cfg Config) *testTracker {
	t.Helper()
	cfg.noEventLoop = goroutineDriver
	reg := prometheus.NewRegistry()
	s, err := New(cfg, nil, reg)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /tracker/socket", s.WebSocketHandler())
	mux.Handle("GET /tracker/announce", s.AnnounceHandler())
	mux.Handle("GET /tracker/scrape", s.ScrapeHandler())
	hs := httptest.NewServer(mux)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
		s.Close()
		hs.Close()
	})
	return &testTracker{srv: s, http: hs, reg: reg}
}

// wsClient reads in the background: nhooyr closes a connection whose
// Read context expires, so timeouts are taken on the channel instead.
type wsClient struct {
	t    *testing.T
	c    *websocket.Conn
	msgs chan []byte
	err  chan error
}

func dial(t *testing.T, tt *testTracker) *wsClient {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, tt.wsURL(), nil)
	if err != nil {
		t.Fatal(err)
	}
	c.SetReadLimit(1 << 20)
	w := &wsClient{t: t, c: c, msgs: make(chan []byte, 1024), err: make(chan error, 1)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			_, data, err := c.Read(context.Background())
			if err != nil {
				w.err <- err
				return
			}
			w.msgs <- data
		}
	}()
	t.Cleanup(func() { c.CloseNow(); <-done })
	return w
}

func (w *wsClient) sendRaw(msg string) {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := w.c.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
		w.t.Fatal(err)
	}
}

func (w *wsClient) send(r *trackerproto.Request) { w.t.Helper(); w.sendRaw(string(r.AppendJSON(nil))) }

func (w *wsClient) recv() (trackerproto.Response, string) {
	w.t.Helper()
	data, err := w.next(5 * time.Second)
	if err != nil {
		w.t.Fatalf("read: %v", err)
	}
	var r trackerproto.Response
	if err := trackerproto.DecodeResponse(data, &r); err != nil {
		w.t.Fatalf("decode %s: %v", data, err)
	}
	return r, string(data)
}

var errTimeout = errors.New("timeout")

// next returns the next message, the connection's error, or errTimeout.
func (w *wsClient) next(d time.Duration) ([]byte, error) {
	select {
	case m := <-w.msgs:
		return m, nil
	case err := <-w.err:
		w.err <- err
		// The reader queues every message before its final error, but
		// select picks at random among ready cases: hand out what was
		// received before the connection ended first.
		select {
		case m := <-w.msgs:
			return m, nil
		default:
		}
		return nil, err
	case <-time.After(d):
		return nil, errTimeout
	}
}

// expectNothing checks that no message arrives within d.
func (w *wsClient) expectNothing(d time.Duration) {
	w.t.Helper()
	if data, err := w.next(d); err == nil {
		w.t.Fatalf("unexpected message %s", data)
	}
}

// closeStatus waits for the connection to end, skipping messages.
func (w *wsClient) closeStatus() (websocket.StatusCode, error) {
	for {
		_, err := w.next(5 * time.Second)
		if err != nil {
			return websocket.CloseStatus(err), err
		}
	}
}

func ident(s string) trackerproto.ID {
	var x trackerproto.ID
	copy(x[:], s)
	return x
}

func announce(ih, peer trackerproto.ID, left int64, ev trackerproto.Event, offers int) *trackerproto.Request {
	r := &trackerproto.Request{Action: trackerproto.ActionAnnounce, InfoHash: ih, PeerID: peer, Left: left, Event: ev, NumWant: offers}
	for i := range offers {
		r.Offers = append(r.Offers, trackerproto.Offer{
			ID:  ident(fmt.Sprintf("offer-%s-%02d", peer[:6], i)),
			SDP: []byte(fmt.Sprintf(`{"type":"offer","sdp":"v=0\r\no=- %d 2 IN IP4 127.0.0.1\r\n"}`, i)),
		})
	}
	return r
}

var (
	ihA   = ident("\x00\x01info-hash-A\xe9\xff\"\\\n!!")
	ihB   = ident("info-hash-BBBBBBBBBB")
	peer1 = ident("-WW0300-peer-one0001")
	peer2 = ident("-WW0300-peer-two0002")
	peer3 = ident("-WW0300-peer-three03")
)

func TestOfferAnswerRelay(t *testing.T) {
	t.Parallel()
	tt := newTestTracker(t, Config{})
	a, b := dial(t, tt), dial(t, tt)

	a.send(announce(ihA, peer1, 0, trackerproto.EventStarted, 0))
	r, raw := a.recv()
	if want := `{"complete":1,"incomplete":0,"action":"announce","interval":120,"info_hash":"\u0000\u0001info-hash-Aéÿ\"\\\n!!"}`; raw != want {
		t.Fatalf("reply\n got %s\nwant %s", raw, want)
	}

	req := announce(ihA, peer2, 100, trackerproto.EventStarted, 3)
	b.send(req)
	r, _ = b.recv()
	if !r.HasCounts || r.Complete != 1 || r.Incomplete != 1 || r.InfoHash != ihA {
		t.Fatalf("reply %+v", r)
	}
	// Only one other peer: it gets exactly one offer (the first).
	off, raw := a.recv()
	if off.Offer == nil || off.PeerID != peer2 || off.OfferID != req.Offers[0].ID || off.InfoHash != ihA ||
		!bytes.Equal(off.Offer, req.Offers[0].SDP) {
		t.Fatalf("relayed offer %s", raw)
	}
	a.expectNothing(100 * time.Millisecond)

	// a answers; b gets the answer, a gets no reply.
	ans := &trackerproto.Request{Action: trackerproto.ActionAnnounce, InfoHash: ihA, PeerID: peer1, ToPeerID: peer2,
		OfferID: off.OfferID, Answer: []byte(`{"type":"answer","sdp":"v=0"}`), Left: trackerproto.LeftUnknown}
	a.send(ans)
	got, raw := b.recv()
	if string(got.Answer) != `{"type":"answer","sdp":"v=0"}` || got.PeerID != peer1 || got.OfferID != off.OfferID || got.InfoHash != ihA {
		t.Fatalf("relayed answer %s", raw)
	}
	a.expectNothing(100 * time.Millisecond)

	if v := counterValue(t, tt.srv.m.offers); v != 1 {
		t.Errorf("offers relayed = %v", v)
	}
	if v := counterValue(t, tt.srv.m.answers); v != 1 {
		t.Errorf("answers relayed = %v", v)
	}

	// Scrape, single and multiple (unknown hash counts zero).
	b.sendRaw(`{"action":"scrape","info_hash":` + string(ihA.AppendJSON(nil)) + `}`)
	sc, raw := b.recv()
	if sc.Action != trackerproto.ActionScrape || len(sc.Files) != 1 || sc.Files[0].Complete != 1 || sc.Files[0].Incomplete != 1 || sc.MinRequestInterval != 600 {
		t.Fatalf("scrape %s", raw)
	}
	b.send(&trackerproto.Request{Action: trackerproto.ActionScrape, InfoHashes: []trackerproto.ID{ihA, ihB}})
	sc, raw = b.recv()
	if len(sc.Files) != 2 || sc.Files[1].InfoHash != ihB || sc.Files[1].Complete != 0 {
		t.Fatalf("scrape %s", raw)
	}
	b.sendRaw(`{"action":"scrape"}`)
	if sc, raw = b.recv(); len(sc.Files) != 1 {
		t.Fatalf("scrape all %s", raw)
	}

	// Completed moves b to complete; stopped removes a.
	b.send(announce(ihA, peer2, 0, trackerproto.EventCompleted, 0))
	if r, raw = b.recv(); r.Complete != 2 || r.Incomplete != 0 {
		t.Fatalf("after completed %s", raw)
	}
	a.send(announce(ihA, peer1, 0, trackerproto.EventStopped, 0))
	if r, raw = a.recv(); r.Complete != 1 {
		t.Fatalf("after stopped %s", raw)
	}

	// Disconnecting removes b, and the empty swarm goes away.
	b.c.Close(websocket.StatusNormalClosure, "")
	testenv.Eventually(t, 5*time.Second, "the tracker state", func() bool { return tt.srv.Stats().Swarms == 0 && tt.srv.Stats().Connections == 1 })
}

func TestOffersSpreadOverPeers(t *testing.T) {
	t.Parallel()
	tt := newTestTracker(t, Config{})
	var peers []*wsClient
	for i := range 6 {
		c := dial(t, tt)
		c.send(announce(ihB, ident(fmt.Sprintf("-WW0300-peer-%07d", i)), 10, trackerproto.EventStarted, 0))
		c.recv()
		peers = append(peers, c)
	}
	x := dial(t, tt)
	req := announce(ihB, peer3, 10, trackerproto.EventStarted, 4)
	x.send(req)
	x.recv()
	seen := map[trackerproto.ID]bool{}
	got := 0
	for _, p := range peers {
		data, err := p.next(300 * time.Millisecond)
		if err != nil {
			continue
		}
		var r trackerproto.Response
		if err := trackerproto.DecodeResponse(data, &r); err != nil || r.Offer == nil || r.PeerID != peer3 {
			t.Fatalf("peer got %s", data)
		}
		if seen[r.OfferID] {
			t.Fatalf("offer %x sent twice", r.OfferID)
		}
		seen[r.OfferID] = true
		got++
	}
	if got != 4 {
		t.Fatalf("%d peers got an offer, want 4", got)
	}
}

func TestPolicyAndLimits(t *testing.T) {
	t.Parallel()
	allowed := ihA
	tt := newTestTracker(t, Config{
		Allow:              func(ih [20]byte) bool { return ih == allowed },
		MaxMessageBytes:    2048,
		AnnouncesPerSecond: 50,
		MaxConnsPerIP:      4,
	})
	c := dial(t, tt)
	ihJSON := string(ihA.AppendJSON(nil))
	pJSON := string(peer1.AppendJSON(nil))
	for _, tc := range []struct{ name, msg, want string }{
		{"unknown hash", string(announce(ihB, peer1, 0, trackerproto.EventStarted, 0).AppendJSON(nil)),
			`{"action":"announce","failure reason":"info_hash is not tracked by this pod","info_hash":"info-hash-BBBBBBBBBB"}`},
		{"bad json", `{"action":`, `{"failure reason":"invalid JSON: unexpected end of input at offset 10"}`},
		{"short info_hash", `{"action":"announce","info_hash":"abc","peer_id":` + pJSON + `}`, `{"failure reason":"invalid info_hash"}`},
		{"long peer_id", `{"action":"announce","info_hash":` + ihJSON + `,"peer_id":"123456789012345678901"}`, `{"failure reason":"invalid peer_id"}`},
		{"unknown action", `{"action":"dance"}`, `{"failure reason":"invalid action in WS request: dance"}`},
		{"no action", `{"info_hash":` + ihJSON + `}`, `{"failure reason":"invalid action in WS request: undefined"}`},
		{"binary garbage", "\x00\xff", `{"failure reason":"invalid JSON: invalid number at offset 0"}`},
		{"answer without to_peer_id", `{"action":"announce","info_hash":` + ihJSON + `,"peer_id":` + pJSON + `,"answer":{}}`,
			"{\"failure reason\":\"invalid `to_peer_id` (required with `answer`)\"}"},
		{"invalid event", `{"action":"announce","info_hash":` + ihJSON + `,"peer_id":` + pJSON + `,"event":"boom"}`,
			`{"action":"announce","failure reason":"invalid event","info_hash":` + ihJSON + `}`},
		{"too many offers", string(announce(ihA, peer1, 0, trackerproto.EventStarted, 11).AppendJSON(nil)),
			`{"action":"announce","failure reason":"too many offers (max 10)","info_hash":` + ihJSON + `}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c.sendRaw(tc.msg)
			if _, raw := c.recv(); raw != tc.want {
				t.Fatalf("got  %s\nwant %s", raw, tc.want)
			}
		})
	}
	if v := counterValue(t, tt.srv.m.rejections[rejectNotTracked]); v != 1 {
		t.Errorf("not_tracked rejections = %v", v)
	}

	t.Run("oversized message closes 1009", func(t *testing.T) {
		c := dial(t, tt)
		c.sendRaw(`{"action":"scrape","pad":"` + strings.Repeat("x", 3000) + `"}`)
		if got, err := c.closeStatus(); got != websocket.StatusMessageTooBig {
			t.Fatalf("close status %v (%v)", got, err)
		}
	})
	t.Run("flood gets failures then close 1008", func(t *testing.T) {
		c := dial(t, tt)
		go func() {
			for range 400 {
				if c.c.Write(context.Background(), websocket.MessageText, []byte(`{"action":"scrape"}`)) != nil {
					return
				}
			}
		}()
		limited := 0
		for {
			data, err := c.next(5 * time.Second)
			if err != nil {
				if got := websocket.CloseStatus(err); got != websocket.StatusPolicyViolation {
					t.Fatalf("close status %v (%v)", got, err)
				}
				break
			}
			if strings.Contains(string(data), ErrRateLimited.Error()) {
				limited++
			}
		}
		if limited == 0 {
			t.Fatal("no rate-limit failure before the close")
		}
	})
	t.Run("connections per IP", func(t *testing.T) {
		testenv.Eventually(t, 5*time.Second, "the tracker state", func() bool { return tt.srv.Stats().Connections <= 1 })
		for range 3 {
			dial(t, tt)
		}
		_, resp, err := websocket.Dial(context.Background(), tt.wsURL(), nil)
		if err == nil || resp == nil || resp.StatusCode != http.StatusTooManyRequests {
			t.Fatalf("5th connection: %v %v", resp, err)
		}
	})
}

func TestPeerTimeout(t *testing.T) {
	t.Parallel()
	tt := newTestTracker(t, Config{PeerTimeout: 300 * time.Millisecond})
	c := dial(t, tt)
	c.send(announce(ihA, peer1, 0, trackerproto.EventStarted, 0))
	c.recv()
	if tt.srv.Stats().WSPeers != 1 {
		t.Fatal("peer not added")
	}
	// A silent peer leaves its swarm and its connection is closed.
	testenv.Eventually(t, 5*time.Second, "the tracker state", func() bool { s := tt.srv.Stats(); return s.WSPeers == 0 && s.Swarms == 0 && s.Connections == 0 })
}

func TestCloseGoingAway(t *testing.T) {
	t.Parallel()
	tt := newTestTracker(t, Config{})
	c := dial(t, tt)
	c.send(announce(ihA, peer1, 0, trackerproto.EventStarted, 0))
	c.recv()
	if err := tt.srv.Close(); err != nil {
		t.Fatal(err)
	}
	if got, err := c.closeStatus(); got != websocket.StatusGoingAway {
		t.Fatalf("close status %v (%v)", got, err)
	}
	if err := tt.srv.Close(); err != nil { // idempotent
		t.Fatal(err)
	}
	if s := tt.srv.Stats(); s.Connections != 0 || s.WSPeers != 0 {
		t.Fatalf("after Close: %+v", s)
	}
	if _, resp, err := websocket.Dial(context.Background(), tt.wsURL(), nil); err == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("dial after Close: %v", err)
	}
}

func httpGet(t *testing.T, u string) []byte {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %v", u, resp.StatusCode, err)
	}
	return b
}

func announceURL(base string, ih, peer trackerproto.ID, port int, extra string) string {
	return fmt.Sprintf("%s/tracker/announce?info_hash=%s&peer_id=%s&port=%d&uploaded=0&downloaded=0%s",
		base, url.QueryEscape(string(ih[:])), url.QueryEscape(string(peer[:])), port, extra)
}

type httpReply struct {
	Failure     string `bencode:"failure reason"`
	Complete    int    `bencode:"complete"`
	Incomplete  int    `bencode:"incomplete"`
	Interval    int    `bencode:"interval"`
	MinInterval int    `bencode:"min interval"`
	Peers       any    `bencode:"peers"`
	Peers6      []byte `bencode:"peers6"`
}

func TestHTTPTracker(t *testing.T) {
	t.Parallel()
	tt := newTestTracker(t, Config{Allow: func(ih [20]byte) bool { return ih != ihB }})
	get := func(u string) httpReply {
		t.Helper()
		body := httpGet(t, u)
		var r httpReply
		if err := bencode.Unmarshal(body, &r); err != nil {
			t.Fatalf("%q: %v", body, err)
		}
		return r
	}
	base := tt.http.URL
	r := get(announceURL(base, ihA, peer1, 6881, "&left=0&event=started&compact=1"))
	if r.Failure != "" || r.Complete != 1 || r.Interval != 600 {
		t.Fatalf("%+v", r)
	}
	// The ip parameter is honoured from loopback; the peer list is compact.
	r = get(announceURL(base, ihA, peer2, 7000, "&left=5&compact=1&ip=10.1.2.3"))
	if want := "\x7f\x00\x00\x01\x1a\xe1"; r.Peers != want || r.Incomplete != 1 {
		t.Fatalf("compact peers %q, %+v", r.Peers, r)
	}
	r = get(announceURL(base, ihA, peer3, 7001, "&left=5&compact=0&numwant=10"))
	list, ok := r.Peers.([]any)
	if !ok || len(list) != 2 {
		t.Fatalf("dict peers %#v", r.Peers)
	}
	for _, p := range list {
		d := p.(map[string]any)
		if d["ip"] != "127.0.0.1" && d["ip"] != "10.1.2.3" || len(d["peer id"].(string)) != 20 {
			t.Fatalf("peer %#v", d)
		}
	}
	r = get(announceURL(base, ihA, peer3, 7001, "&numwant=0"))
	if r.Peers != "" {
		t.Fatalf("numwant=0 gave %q", r.Peers)
	}
	// IPv6 peer (by ip parameter) goes to peers6.
	get(announceURL(base, ihA, ident("-v6-peer-0000000000"), 7002, "&left=5&ip=%3A%3A1"))
	r = get(announceURL(base, ihA, peer3, 7001, "&compact=1"))
	if len(r.Peers6) != 18 {
		t.Fatalf("peers6 %q", r.Peers6)
	}

	// A WebSocket peer shares the counts but is not in the HTTP peer list.
	c := dial(t, tt)
	c.send(announce(ihA, ident("-WW0300-browser-0001"), 0, trackerproto.EventStarted, 0))
	if wr, raw := c.recv(); wr.Complete != 2 || wr.Incomplete != 3 {
		t.Fatalf("ws sees %s", raw)
	}
	r = get(announceURL(base, ihA, peer1, 6881, "&left=0&compact=1&numwant=50"))
	if r.Complete != 2 || r.Incomplete != 3 || len(r.Peers.(string)) != 6*2 || len(r.Peers6) != 18 {
		t.Fatalf("http sees %+v", r)
	}

	// stopped removes.
	r = get(announceURL(base, ihA, peer2, 7000, "&event=stopped&ip=10.1.2.3"))
	if r.Incomplete != 2 {
		t.Fatalf("after stop %+v", r)
	}

	for _, tc := range []struct{ name, url, want string }{
		{"not tracked", announceURL(base, ihB, peer1, 1, ""), "d14:failure reason36:info_hash is not tracked by this podе"},
		{"short info_hash", base + "/tracker/announce?info_hash=abc&peer_id=" + url.QueryEscape(string(peer1[:])) + "&port=1", "d14:failure reason17:invalid info_hashe"},
		{"bad escape", base + "/tracker/announce?info_hash=%zz", "d14:failure reason17:invalid info_hashe"},
		{"no peer_id", base + "/tracker/announce?info_hash=" + url.QueryEscape(string(ihA[:])) + "&port=1", "d14:failure reason15:invalid peer_ide"},
		{"bad port", announceURL(base, ihA, peer1, 70000, ""), "d14:failure reason12:invalid porte"},
		{"bad event", announceURL(base, ihA, peer1, 1, "&event=exploded"), "d14:failure reason13:invalid evente"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := strings.Replace(tc.want, "е", "e", 1) // (keeps the literal greppable)
			if got := string(httpGet(t, tc.url)); got != want {
				t.Fatalf("got %q want %q", got, want)
			}
		})
	}

	// Scrape: named hashes sorted, unknown ones zero; no hash = all swarms.
	body := httpGet(t, base+"/tracker/scrape?info_hash="+url.QueryEscape(string(ihB[:]))+"&info_hash="+url.QueryEscape(string(ihA[:])))
	var sc struct {
		Files map[string]struct {
			Complete   int `bencode:"complete"`
			Incomplete int `bencode:"incomplete"`
			Downloaded int `bencode:"downloaded"`
		} `bencode:"files"`
	}
	if err := bencode.Unmarshal(body, &sc); err != nil {
		t.Fatalf("%q: %v", body, err)
	}
	if f := sc.Files[string(ihA[:])]; f.Complete != 2 || f.Incomplete != 2 || len(sc.Files) != 2 {
		t.Fatalf("scrape %q", body)
	}
	if !bytes.HasPrefix(body, []byte("d5:filesd20:"+string(ihA[:]))) {
		t.Fatalf("files not sorted: %q", body)
	}
	if body := httpGet(t, base+"/tracker/scrape"); !bytes.Contains(body, ihA[:]) {
		t.Fatalf("scrape all %q", body)
	}
}

func TestParseAnnounce(t *testing.T) {
	t.Parallel()
	ih := url.QueryEscape(string(ihA[:]))
	pid := url.QueryEscape(string(peer1[:]))
	for _, tc := range []struct {
		name string
		q    string
		err  error
		want httpAnnounce
	}{
		{"full", "info_hash=" + ih + "&peer_id=" + pid + "&port=6881&left=10&event=completed&compact=1&numwant=7&no_peer_id=1&ip=%3A%3Affff%3A1.2.3.4&key=x",
			nil, httpAnnounce{infoHash: ihA, peerID: peer1, port: 6881, left: 10, event: trackerproto.EventCompleted, compact: 1, numWant: 7, noPeerID: true}},
		{"minimal", "info_hash=" + ih + "&peer_id=" + pid + "&port=1", nil, httpAnnounce{infoHash: ihA, peerID: peer1, port: 1, left: -1, compact: -1, numWant: -1}},
		{"missing info_hash", "peer_id=" + pid + "&port=1", errHTTPInfoHash, httpAnnounce{}},
		{"long info_hash", "info_hash=" + ih + "x&peer_id=" + pid + "&port=1", errHTTPInfoHash, httpAnnounce{}},
		{"bad peer_id", "info_hash=" + ih + "&peer_id=%G0&port=1", errHTTPPeerID, httpAnnounce{}},
		{"port zero", "info_hash=" + ih + "&peer_id=" + pid + "&port=0", ErrInvalidPort, httpAnnounce{}},
		{"port text", "info_hash=" + ih + "&peer_id=" + pid + "&port=http", ErrInvalidPort, httpAnnounce{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var a httpAnnounce
			err := parseAnnounce(tc.q, &a)
			if !errors.Is(err, tc.err) {
				t.Fatalf("err %v want %v", err, tc.err)
			}
			if err != nil {
				return
			}
			if tc.name == "full" {
				tc.want.ip = a.ip
				if a.ip.String() != "1.2.3.4" {
					t.Fatalf("ip %v", a.ip)
				}
			}
			if a != tc.want {
				t.Fatalf("got %+v\nwant %+v", a, tc.want)
			}
		})
	}
}

func FuzzParseAnnounce(f *testing.F) {
	ih := url.QueryEscape(string(ihA[:]))
	pid := url.QueryEscape(string(peer1[:]))
	f.Add("info_hash=" + ih + "&peer_id=" + pid + "&port=6881&left=10&event=completed&compact=1&numwant=7&ip=1.2.3.4")
	f.Add("info_hash=%zz&peer_id=&port=-1")
	f.Add("event=%&ip=%3A%3A1&&&=")
	f.Fuzz(func(t *testing.T, q string) {
		var a httpAnnounce
		if err := parseAnnounce(q, &a); err != nil {
			return
		}
		// Whatever parses, url.ParseQuery reads the same info_hash.
		v, err := url.ParseQuery(q)
		if err != nil {
			return // ParseQuery is stricter about other parameters' escapes
		}
		if hs := v["info_hash"]; len(hs) == 0 || hs[len(hs)-1] != string(a.infoHash[:]) {
			t.Fatalf("info_hash %q vs %q", a.infoHash, hs)
		}
		if a.port < 1 || a.port > 65535 {
			t.Fatalf("port %d", a.port)
		}
	})
}

func counterValue(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}
