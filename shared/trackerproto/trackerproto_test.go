package trackerproto

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"
)

func id(s string) ID {
	var x ID
	copy(x[:], s)
	return x
}

// jsBin is the JSON.stringify output for a binary string of the bytes in s.
func jsBin(s string) string { return string(AppendBinaryString(nil, []byte(s))) }

func TestBinaryString(t *testing.T) {
	t.Parallel()
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	for _, tc := range []struct {
		name string
		in   []byte
		want string
	}{
		{"ascii", []byte("-WW0300-abcdefghijkl"), `"-WW0300-abcdefghijkl"`},
		{"controls", []byte{0, 8, 9, 10, 12, 13, 31, '"', '\\', 0x7f}, `"\u0000\b\t\n\f\r\u001f\"\\` + "\x7f" + `"`},
		{"latin1", []byte{0x80, 0xe9, 0xff}, "\"\u0080\u00e9\u00ff\""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := string(AppendBinaryString(nil, tc.in))
			if got != tc.want {
				t.Fatalf("got %s, want %s", got, tc.want)
			}
			// encoding/json must read the same code points back.
			var s string
			if err := json.Unmarshal([]byte(got), &s); err != nil {
				t.Fatal(err)
			}
			if rs := []rune(s); len(rs) != len(tc.in) {
				t.Fatalf("%d runes, want %d", len(rs), len(tc.in))
			}
		})
	}
	// Every byte value round-trips through ID.
	for off := 0; off < 256; off += 20 {
		var want ID
		copy(want[:], all[off:])
		data, _ := want.MarshalJSON()
		var got ID
		if err := got.UnmarshalJSON(data); err != nil || got != want {
			t.Fatalf("round trip %x: got %x, %v", want, got, err)
		}
		// Go's encoding of the same code points (with \u003c-style escapes).
		rs := make([]rune, 20)
		for i, b := range want {
			rs[i] = rune(b)
		}
		goJSON, _ := json.Marshal(string(rs))
		if err := got.UnmarshalJSON(goJSON); err != nil || got != want {
			t.Fatalf("go-encoded %s: got %x, %v", goJSON, got, err)
		}
	}
	for _, bad := range []string{`"short"`, `"` + strings.Repeat("a", 21) + `"`, `"` + strings.Repeat("a", 19) + `Ā"`, `"` + strings.Repeat("a", 19) + `\ud83d"`, `12`, `"` + strings.Repeat("a", 20) + `" x`} {
		var x ID
		if err := x.UnmarshalJSON([]byte(bad)); err == nil {
			t.Errorf("UnmarshalJSON(%s) accepted", bad)
		}
	}
}

var (
	ih     = id("\x01\x02infohash-\xe9\xff\"\\\n1234")
	peer   = id("-WW0300-peerpeerpeer")
	other  = id("-WW0300-otherotherot")
	offer1 = id("offer-id-000000000001")
)

func TestDecodeRequest(t *testing.T) {
	t.Parallel()
	sdp := `{"type":"offer","sdp":"v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\n"}`
	for _, tc := range []struct {
		name    string
		in      string
		wantErr error
		check   func(t *testing.T, r *Request)
	}{
		{"announce with offers", `{"numwant":2,"uploaded":1,"downloaded":2,"left":100,"event":"started","action":"announce","info_hash":` + jsBin(string(ih[:])) + `,"peer_id":` + jsBin(string(peer[:])) + `,"offers":[{"offer":` + sdp + `,"offer_id":` + jsBin(string(offer1[:])) + `},{"offer":{"type":"offer","sdp":"x"},"offer_id":` + jsBin(string(other[:])) + `}]}`, nil,
			func(t *testing.T, r *Request) {
				if r.Action != ActionAnnounce || r.InfoHash != ih || r.PeerID != peer || r.Left != 100 || r.Event != EventStarted || r.NumWant != 2 || r.Uploaded != 1 || r.Downloaded != 2 {
					t.Fatalf("%+v", r)
				}
				if len(r.Offers) != 2 || string(r.Offers[0].SDP) != sdp || r.Offers[0].ID != offer1 || r.Offers[1].ID != other {
					t.Fatalf("offers %+v", r.Offers)
				}
			}},
		{"answer", `{"action":"announce","info_hash":` + jsBin(string(ih[:])) + `,"peer_id":` + jsBin(string(peer[:])) + `,"to_peer_id":` + jsBin(string(other[:])) + `,"answer":{"type":"answer","sdp":"y"},"offer_id":` + jsBin(string(offer1[:])) + `}`, nil,
			func(t *testing.T, r *Request) {
				if !r.IsAnswer() || r.ToPeerID != other || r.OfferID != offer1 || string(r.Answer) != `{"type":"answer","sdp":"y"}` || r.Left != LeftUnknown {
					t.Fatalf("%+v", r)
				}
			}},
		{"anacrolix empty event and null offers", `{"numwant":0,"uploaded":0,"downloaded":0,"left":0,"event":"empty","action":"announce","info_hash":` + jsBin(string(ih[:])) + `,"peer_id":` + jsBin(string(peer[:])) + `,"offers":null}`, nil,
			func(t *testing.T, r *Request) {
				if r.Event != EventUpdate || r.Left != 0 || len(r.Offers) != 0 {
					t.Fatalf("%+v", r)
				}
			}},
		{"left as string and null", `{"action":"announce","info_hash":` + jsBin(string(ih[:])) + `,"peer_id":` + jsBin(string(peer[:])) + `,"left":" 42 "}`, nil,
			func(t *testing.T, r *Request) {
				if r.Left != 42 {
					t.Fatalf("left %d", r.Left)
				}
			}},
		{"left NaN", `{"action":"announce","info_hash":` + jsBin(string(ih[:])) + `,"peer_id":` + jsBin(string(peer[:])) + `,"left":"lots"}`, nil,
			func(t *testing.T, r *Request) {
				if r.Left != LeftUnknown {
					t.Fatalf("left %d", r.Left)
				}
			}},
		{"escaped key", `{"act\u0069on":"scrape"}`, nil, func(t *testing.T, r *Request) {
			if r.Action != ActionScrape || len(r.InfoHashes) != 0 {
				t.Fatalf("%+v", r)
			}
		}},
		{"scrape one", `{"action":"scrape","info_hash":` + jsBin(string(ih[:])) + `}`, nil, func(t *testing.T, r *Request) {
			if len(r.InfoHashes) != 1 || r.InfoHashes[0] != ih {
				t.Fatalf("%+v", r)
			}
		}},
		{"scrape many", `{"action":"scrape","info_hash":[` + jsBin(string(ih[:])) + `,` + jsBin(string(peer[:])) + `]}`, nil, func(t *testing.T, r *Request) {
			if len(r.InfoHashes) != 2 || r.InfoHashes[1] != peer {
				t.Fatalf("%+v", r)
			}
		}},
		{"invalid event", `{"action":"announce","info_hash":` + jsBin(string(ih[:])) + `,"peer_id":` + jsBin(string(peer[:])) + `,"event":"exploded"}`, nil, func(t *testing.T, r *Request) {
			if r.Event != EventInvalid {
				t.Fatalf("event %v", r.Event)
			}
		}},
		{"bad json", `{"action":"announce",`, ErrSyntax, nil},
		{"trailing garbage", `{"action":"scrape"} x`, ErrSyntax, nil},
		{"not object", `[1,2]`, ErrNotObject, nil},
		{"unknown action", `{"action":"dance"}`, ErrInvalidAction, nil},
		{"missing action", `{}`, ErrInvalidAction, nil},
		{"short info_hash", `{"action":"announce","info_hash":"abc","peer_id":` + jsBin(string(peer[:])) + `}`, ErrInvalidInfoHash, nil},
		{"info_hash above latin1", `{"action":"announce","info_hash":"` + strings.Repeat("Ā", 20) + `","peer_id":` + jsBin(string(peer[:])) + `}`, ErrInvalidInfoHash, nil},
		{"numeric info_hash", `{"action":"announce","info_hash":12,"peer_id":` + jsBin(string(peer[:])) + `}`, ErrInvalidInfoHash, nil},
		{"bad peer_id", `{"action":"announce","info_hash":` + jsBin(string(ih[:])) + `,"peer_id":"x"}`, ErrInvalidPeerID, nil},
		{"answer without to_peer_id", `{"action":"announce","info_hash":` + jsBin(string(ih[:])) + `,"peer_id":` + jsBin(string(peer[:])) + `,"answer":{"sdp":"y"},"offer_id":` + jsBin(string(offer1[:])) + `}`, ErrInvalidToPeerID, nil},
		{"offer without offer_id", `{"action":"announce","info_hash":` + jsBin(string(ih[:])) + `,"peer_id":` + jsBin(string(peer[:])) + `,"offers":[{"offer":{}}]}`, ErrInvalidOfferID, nil},
		{"offer not object", `{"action":"announce","info_hash":` + jsBin(string(ih[:])) + `,"peer_id":` + jsBin(string(peer[:])) + `,"offers":[7]}`, ErrInvalidOffer, nil},
		{"too many offers", `{"action":"announce","info_hash":` + jsBin(string(ih[:])) + `,"peer_id":` + jsBin(string(peer[:])) + `,"offers":[` + strings.Repeat(`{"offer":{},"offer_id":`+jsBin(string(offer1[:]))+`},`, MaxOffers) + `{"offer":{},"offer_id":` + jsBin(string(offer1[:])) + `}]}`, ErrTooManyOffers, nil},
		{"deep nesting", `{"action":"scrape","x":` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + `}`, ErrSyntax, nil},
		{"invalid utf8", "{\"action\":\"scrape\",\"x\":\"\xff\"}", ErrSyntax, nil},
		{"raw control char", "{\"action\":\"scrape\",\"x\":\"a\tb\"}", ErrSyntax, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var r Request
			err := DecodeRequest([]byte(tc.in), &r)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, &r)
			// Re-encoding and decoding gives the same request.
			var r2 Request
			if err := DecodeRequest(r.AppendJSON(nil), &r2); err != nil {
				t.Fatalf("re-decode %s: %v", r.AppendJSON(nil), err)
			}
			if r.Action == ActionAnnounce && (r2.InfoHash != r.InfoHash || r2.PeerID != r.PeerID || len(r2.Offers) != len(r.Offers) || r2.IsAnswer() != r.IsAnswer()) {
				t.Fatalf("round trip: %+v != %+v", r2, r)
			}
		})
	}
}

func TestResponsesRoundTrip(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		r    Response
		want string
	}{
		{"announce reply", Response{Action: ActionAnnounce, HasInfoHash: true, InfoHash: peer, HasCounts: true, Complete: 1, Incomplete: 2, Interval: 120},
			`{"complete":1,"incomplete":2,"action":"announce","interval":120,"info_hash":"-WW0300-peerpeerpeer"}`},
		{"offer", Response{Action: ActionAnnounce, HasInfoHash: true, InfoHash: peer, PeerID: other, OfferID: offer1, Offer: json.RawMessage(`{"type":"offer","sdp":"x"}`)},
			`{"action":"announce","offer":{"type":"offer","sdp":"x"},"offer_id":"offer-id-00000000000","peer_id":"-WW0300-otherotherot","info_hash":"-WW0300-peerpeerpeer"}`},
		{"answer", Response{Action: ActionAnnounce, HasInfoHash: true, InfoHash: peer, PeerID: other, OfferID: offer1, Answer: json.RawMessage(`{"type":"answer","sdp":"x"}`)},
			`{"action":"announce","answer":{"type":"answer","sdp":"x"},"offer_id":"offer-id-00000000000","peer_id":"-WW0300-otherotherot","info_hash":"-WW0300-peerpeerpeer"}`},
		{"failure", Response{Action: ActionAnnounce, HasInfoHash: true, InfoHash: peer, FailureReason: `no "such" torrent`},
			`{"action":"announce","failure reason":"no \"such\" torrent","info_hash":"-WW0300-peerpeerpeer"}`},
		{"parse failure", Response{FailureReason: "invalid info_hash"}, `{"failure reason":"invalid info_hash"}`},
		{"scrape", Response{Action: ActionScrape, Files: []ScrapeFile{{InfoHash: peer, Complete: 1, Incomplete: 2, Downloaded: 3}, {InfoHash: other}}, MinRequestInterval: 600},
			`{"action":"scrape","files":{"-WW0300-peerpeerpeer":{"complete":1,"incomplete":2,"downloaded":3},"-WW0300-otherotherot":{"complete":0,"incomplete":0,"downloaded":0}},"flags":{"min_request_interval":600}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := string(tc.r.AppendJSON(nil))
			if got != tc.want {
				t.Fatalf("got  %s\nwant %s", got, tc.want)
			}
			if !json.Valid([]byte(got)) {
				t.Fatal("invalid JSON")
			}
			var back Response
			if err := DecodeResponse([]byte(got), &back); err != nil {
				t.Fatal(err)
			}
			if again := string(back.AppendJSON(nil)); again != got {
				t.Fatalf("round trip %s", again)
			}
		})
	}
}

// TestOfferRelayTail checks that relays built with a shared tail are the
// messages AppendOfferRelay builds.
func TestOfferRelayTail(t *testing.T) {
	t.Parallel()
	tail := AppendRelayTail(nil, peer, other)
	for _, o := range []ID{offer1, id("\x00\\\"\xff-offer-id-000000")} {
		sdp := []byte(`{"type":"offer","sdp":"v=0\r\n"}`)
		got, want := AppendOfferRelayTail(nil, o, sdp, tail), AppendOfferRelay(nil, peer, other, o, sdp)
		if string(got) != string(want) {
			t.Fatalf("got  %s\nwant %s", got, want)
		}
	}
}

func TestDecodeRequestAllocs(t *testing.T) {
	msg := []byte(`{"action":"announce","info_hash":` + jsBin(string(ih[:])) + `,"peer_id":` + jsBin(string(peer[:])) + `,"left":5,"event":"started","numwant":5,"offers":[` +
		strings.Repeat(`{"offer":{"type":"offer","sdp":"v=0\r\n"},"offer_id":`+jsBin(string(offer1[:]))+`},`, 4) + `{"offer":{"type":"offer","sdp":"v=0"},"offer_id":` + jsBin(string(offer1[:])) + `}]}`)
	var r Request
	if err := DecodeRequest(msg, &r); err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(100, func() { _ = DecodeRequest(msg, &r) }); n > 0 {
		t.Fatalf("DecodeRequest allocates %v times per announce", n)
	}
}

// FuzzDecodeRequest checks the decoder against encoding/json: it never
// accepts invalid JSON, never calls valid JSON a syntax error, agrees on
// the fields both read, and whatever it accepts re-encodes to a message it
// decodes the same way.
func FuzzDecodeRequest(f *testing.F) {
	f.Add([]byte(`{"action":"announce","info_hash":` + jsBin(string(ih[:])) + `,"peer_id":` + jsBin(string(peer[:])) + `,"offers":[{"offer":{"sdp":"x"},"offer_id":` + jsBin(string(offer1[:])) + `}]}`))
	f.Add([]byte(`{"action":"announce","info_hash":` + jsBin(string(ih[:])) + `,"peer_id":` + jsBin(string(peer[:])) + `,"to_peer_id":` + jsBin(string(other[:])) + `,"answer":{"sdp":"y"},"offer_id":` + jsBin(string(offer1[:])) + `}`))
	f.Add([]byte(`{"action":"scrape","info_hash":["aaaaaaaaaaaaaaaaaaaa","\u00e9aaaaaaaaaaaaaaaaaa"]}`))
	f.Add([]byte(`{"action":"scrape","left":-1e400,"event":null,"x":[1,{"y":"\ud83d\ude00"}]}`))
	f.Add([]byte(`{"action":"announce"`))
	f.Add([]byte(`"str"`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var r Request
		err := DecodeRequest(data, &r)
		valid := json.Valid(data) && utf8.Valid(data)
		if errors.Is(err, ErrSyntax) {
			if valid && depth(data) <= maxDepth {
				t.Fatalf("valid JSON rejected: %v", err)
			}
			return
		}
		if !valid {
			t.Fatalf("invalid JSON accepted (err=%v)", err)
		}
		if err != nil {
			return
		}
		var m map[string]json.RawMessage
		if json.Unmarshal(data, &m) != nil {
			t.Fatal("encoding/json cannot read an accepted object")
		}
		if r.Action == ActionAnnounce {
			var s string
			if json.Unmarshal(m["info_hash"], &s) != nil || len([]rune(s)) != 20 {
				t.Fatalf("accepted info_hash %s", m["info_hash"])
			}
			for i, rn := range []rune(s) {
				if rune(r.InfoHash[i]) != rn {
					t.Fatalf("info_hash %x vs %q", r.InfoHash, s)
				}
			}
		}
		var r2 Request
		enc := r.AppendJSON(nil)
		if err := DecodeRequest(enc, &r2); err != nil {
			t.Fatalf("re-encoded %s: %v", enc, err)
		}
		if !bytes.Equal(r2.AppendJSON(nil), enc) {
			t.Fatalf("unstable encoding %s", enc)
		}
	})
}

// FuzzDecodeResponse checks that DecodeResponse never accepts invalid JSON
// and that accepted responses re-encode to a decodable message.
func FuzzDecodeResponse(f *testing.F) {
	f.Add([]byte(`{"complete":1,"incomplete":2,"action":"announce","interval":120,"info_hash":"-WW0300-peerpeerpeer"}`))
	f.Add([]byte(`{"action":"scrape","files":{"-WW0300-peerpeerpeer":{"complete":1}},"flags":{"min_request_interval":600}}`))
	f.Add([]byte(`{"failure reason":"x"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var r Response
		err := DecodeResponse(data, &r)
		if err == nil && !(json.Valid(data) && utf8.Valid(data)) {
			t.Fatalf("invalid JSON accepted")
		}
		if err != nil {
			return
		}
		var r2 Response
		if err := DecodeResponse(r.AppendJSON(nil), &r2); err != nil && r.FailureReason == "" {
			t.Fatalf("re-encoded %s: %v", r.AppendJSON(nil), err)
		}
	})
}

func depth(data []byte) int {
	d, max, inStr := 0, 0, false
	for i := 0; i < len(data); i++ {
		c := data[i]
		switch {
		case inStr && c == '\\':
			i++
		case c == '"':
			inStr = !inStr
		case !inStr && (c == '{' || c == '['):
			d++
			if d > max {
				max = d
			}
		case !inStr && (c == '}' || c == ']'):
			d--
		}
	}
	return max
}

func BenchmarkDecodeRequest(b *testing.B) {
	sdp := `{"type":"offer","sdp":"` + strings.Repeat(`a=candidate:1 1 udp 2122260223 192.168.1.2 54321 typ host\r\n`, 8) + `"}`
	msg := []byte(`{"action":"announce","info_hash":` + jsBin(string(ih[:])) + `,"peer_id":` + jsBin(string(peer[:])) + `,"left":5,"event":"started","numwant":5,"offers":[` +
		strings.Repeat(`{"offer":`+sdp+`,"offer_id":`+jsBin(string(offer1[:]))+`},`, 4) + `{"offer":` + sdp + `,"offer_id":` + jsBin(string(offer1[:])) + `}]}`)
	b.Run("trackerproto", func(b *testing.B) {
		var r Request
		b.SetBytes(int64(len(msg)))
		b.ReportAllocs()
		for b.Loop() {
			if err := DecodeRequest(msg, &r); err != nil {
				b.Fatal(err)
			}
		}
	})
	// The baseline the hand-written decoder has to beat to keep its place:
	// encoding/json into the same fields, binary strings turned back into
	// 20-byte ids and the offers kept raw, as DecodeRequest does.
	b.Run("encoding-json", func(b *testing.B) {
		type jsonOffer struct {
			Offer   json.RawMessage `json:"offer"`
			OfferID string          `json:"offer_id"`
		}
		var r struct {
			Action   string      `json:"action"`
			InfoHash string      `json:"info_hash"`
			PeerID   string      `json:"peer_id"`
			Left     int64       `json:"left"`
			Event    string      `json:"event"`
			NumWant  int         `json:"numwant"`
			Offers   []jsonOffer `json:"offers"`
		}
		binID := func(s string) (x ID) {
			i := 0
			for _, c := range s {
				if i < len(x) {
					x[i] = byte(c)
				}
				i++
			}
			return x
		}
		b.SetBytes(int64(len(msg)))
		b.ReportAllocs()
		for b.Loop() {
			r.Offers = r.Offers[:0]
			if err := json.Unmarshal(msg, &r); err != nil {
				b.Fatal(err)
			}
			if binID(r.InfoHash) != ih || binID(r.PeerID) != peer || binID(r.Offers[0].OfferID) != offer1 {
				b.Fatal("ids differ")
			}
		}
	})
}

// TestPlain8 checks the eight-byte test against the byte table for every
// byte value in every position.
func TestPlain8(t *testing.T) {
	t.Parallel()
	base := []byte("a=candid")
	for pos := range 8 {
		for c := range 256 {
			b := append([]byte(nil), base...)
			b[pos] = byte(c)
			want := true
			for _, x := range b {
				want = want && plainStringByte[x]
			}
			if got := plain8(binary.LittleEndian.Uint64(b)); got != want {
				t.Fatalf("plain8(%q) = %v, want %v", b, got, want)
			}
		}
	}
	// Several special bytes at once (borrows between bytes).
	pick := []byte{0, 1, 0x1f, 0x20, 0x21, '"', '#', '\\', ']', 0x7f, 0x80, 0xff, 'a'}
	r := rand.New(rand.NewPCG(1, 2))
	var b [8]byte
	for range 200000 {
		want := true
		for i := range b {
			b[i] = pick[r.IntN(len(pick))]
			want = want && plainStringByte[b[i]]
		}
		if got := plain8(binary.LittleEndian.Uint64(b[:])); got != want {
			t.Fatalf("plain8(%q) = %v, want %v", b, got, want)
		}
	}
}
