package fedproto

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/swarmtube/swarmtube/server/api"
)

var (
	keyOnce sync.Once
	testKey *rsa.PrivateKey
)

func key(t testing.TB) *rsa.PrivateKey {
	t.Helper()
	keyOnce.Do(func() {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		testKey = k
	})
	return testKey
}

const goodSig = `keyId="http://a.example:9001",algorithm="rsa-sha256",headers="(request-target) host date digest",signature="AAECAw=="`

var sigCases = []struct {
	name    string
	in      string
	wantErr error
	keyID   string
	headers string
}{
	{"good", goodSig, nil, "http://a.example:9001", "(request-target) host date digest"},
	{"hs2019 and spaces", `keyId="k", algorithm="hs2019", headers="(request-target) Host DATE digest", signature="AAECAw=="`, nil, "k", "(request-target) host date digest"},
	{"created bare int", `keyId="k",created=1700000000,headers="date",signature="AAECAw=="`, nil, "k", "date"},
	{"unknown param ignored", `keyId="k",foo="bar",headers="date",signature="AAECAw=="`, nil, "k", "date"},
	{"empty", ``, ErrNoSignature, "", ""},
	{"no keyId", `headers="date",signature="AAECAw=="`, ErrBadSignature, "", ""},
	{"no signature", `keyId="k",headers="date"`, ErrBadSignature, "", ""},
	{"no headers", `keyId="k",signature="AAECAw=="`, ErrBadSignature, "", ""},
	{"other algorithm", `keyId="k",algorithm="hmac-sha256",headers="date",signature="AAECAw=="`, ErrBadSignature, "", ""},
	{"duplicate keyId", `keyId="k",keyId="j",headers="date",signature="AAECAw=="`, ErrBadSignature, "", ""},
	{"unterminated", `keyId="k,headers="date",signature="AAECAw==`, ErrBadSignature, "", ""},
	{"escape", `keyId="k\"",headers="date",signature="AAECAw=="`, ErrBadSignature, "", ""},
	{"bad base64", `keyId="k",headers="date",signature="!!"`, ErrBadSignature, "", ""},
	{"garbage between", `keyId="k" x,headers="date",signature="AAECAw=="`, ErrBadSignature, "", ""},
	{"negative created", `keyId="k",created=-1,headers="date",signature="AAECAw=="`, ErrBadSignature, "", ""},
	{"no value", `keyId`, ErrBadSignature, "", ""},
	{"bare keyId", `keyId=k,headers="date",signature="AAECAw=="`, ErrBadSignature, "", ""},
	{"quote in bare value", `keyId="0",foo=0",signature="AAECAw==",headers="date"`, ErrBadSignature, "", ""},
	{"too long", `keyId="` + strings.Repeat("a", MaxSignatureHeader) + `"`, ErrBadSignature, "", ""},
}

func TestParseSignature(t *testing.T) {
	t.Parallel()
	for _, tc := range sigCases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := ParseSignature(tc.in)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if err != nil {
				return
			}
			if p.KeyID != tc.keyID || strings.Join(p.Headers, " ") != tc.headers {
				t.Fatalf("got keyId %q headers %q", p.KeyID, p.Headers)
			}
			// What String writes, ParseSignature reads back.
			q, err := ParseSignature(p.String())
			if err != nil || q.KeyID != p.KeyID || !bytes.Equal(q.Signature, p.Signature) {
				t.Fatalf("round trip: %v %+v", err, q)
			}
		})
	}
}

func TestCheckCovers(t *testing.T) {
	t.Parallel()
	p, _ := ParseSignature(goodSig)
	if err := p.CheckCovers(); err != nil {
		t.Fatal(err)
	}
	p.Headers = []string{RequestTarget, "host", "date"}
	if err := p.CheckCovers(); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("missing digest accepted: %v", err)
	}
}

var (
	digestBody = []byte(`{"events":[]}`)
	digestGood = Digest(digestBody)[len("SHA-256="):]
	digestBad  = Digest([]byte("other"))[len("SHA-256="):]
	// sha512 is a well-formed SHA-512 member; its value is never checked.
	sha512 = "SHA-512=z4PhNX7vuL3xVChQ1m2AB9Yg5AULVxXcg/SpIdNs6c5H0NE8XYXysP+DGNKHfuwvY7kxvUdBeoGlODJ6+SfaPg=="
)

// digestCases: the Digest header is a list (RFC 3230); unknown algorithms
// are skipped; SHA-256 decides (issue 14, interop bug C).
var digestCases = []struct {
	name   string
	header string
	ok     bool
}{
	{"sha-256 alone", "SHA-256=" + digestGood, true},
	{"lower-case algorithm", "sha-256=" + digestGood, true},
	{"sha-256 then sha-512", "SHA-256=" + digestGood + ", " + sha512, true},
	{"sha-512 then sha-256", sha512 + ",SHA-256=" + digestGood, true},
	{"unknown algorithms skipped", "UNIXsum=30637, MD5=HUXZLQLMuI/KZ5KDcJPcOA==, SHA-256=" + digestGood, true},
	{"rfc 9530 byte sequence", "sha-256=:" + digestGood + ":", true},
	{"spaces around", "  SHA-256 = " + digestGood + " ", true},
	{"malformed member skipped", "garbage, SHA-256=" + digestGood, true},
	{"short sha-512 value", "SHA-512=x, SHA-256=" + digestGood, true},
	{"empty", "", false},
	{"sha-256 without value", "SHA-256=", false},
	{"only md5", "MD5=" + digestGood, false},
	{"only sha-512", sha512, false},
	{"sha-256 mismatch", "SHA-256=" + digestBad, false},
	{"sha-256 mismatch beside sha-512", sha512 + ", SHA-256=" + digestBad, false},
	{"one of two sha-256 mismatches", "SHA-256=" + digestGood + ", SHA-256=" + digestBad, false},
	{"sha-256 match, then a mismatch", "SHA-256=" + digestBad + ", SHA-256=" + digestGood, false},
	{"only commas", ",,,", false},
}

func TestCheckDigest(t *testing.T) {
	t.Parallel()
	for _, tc := range digestCases {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckDigest(tc.header, digestBody)
			if tc.ok && err != nil || !tc.ok && !errors.Is(err, ErrBadDigest) {
				t.Fatalf("CheckDigest(%q) = %v, want ok=%v", tc.header, err, tc.ok)
			}
		})
	}
	// Several Digest lines form one list.
	h := http.Header{}
	h.Add("Digest", sha512)
	h.Add("Digest", "SHA-256="+digestGood)
	if err := CheckDigest(DigestHeader(h), digestBody); err != nil {
		t.Fatalf("two Digest lines: %v", err)
	}
}

// FuzzCheckDigest: a Digest list is accepted only if it holds a SHA-256
// member with the body's digest and no SHA-256 member with another value.
func FuzzCheckDigest(f *testing.F) {
	for _, tc := range digestCases {
		f.Add(tc.header, digestBody)
	}
	f.Fuzz(func(t *testing.T, header string, body []byte) {
		if CheckDigest(header, body) != nil {
			return
		}
		want := Digest(body)[len("SHA-256="):]
		found := false
		for m := range strings.SplitSeq(header, ",") {
			alg, val, ok := strings.Cut(strings.TrimSpace(m), "=")
			if !ok || !strings.EqualFold(strings.TrimSpace(alg), "sha-256") {
				continue
			}
			val = strings.Trim(strings.TrimSpace(val), ":")
			if val != want {
				t.Fatalf("accepted %q with a wrong SHA-256 member %q", header, val)
			}
			found = true
		}
		if !found {
			t.Fatalf("accepted %q without a SHA-256 member", header)
		}
	})
}

func TestDate(t *testing.T) {
	t.Parallel()
	now := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, tc := range []struct {
		date string
		ok   bool
	}{
		{now.Format(http.TimeFormat), true},
		{now.Add(-4 * time.Minute).Format(http.TimeFormat), true},
		{now.Add(4 * time.Minute).Format(http.TimeFormat), true},
		{now.Add(-6 * time.Minute).Format(http.TimeFormat), false},
		{now.Add(6 * time.Minute).Format(http.TimeFormat), false},
		{"yesterday", false},
		{"", false},
	} {
		if err := CheckDate(tc.date, now); (err == nil) != tc.ok {
			t.Errorf("CheckDate(%q) = %v, want ok=%v", tc.date, err, tc.ok)
		}
	}
}

func goodVideo() api.Video {
	return api.Video{
		ID: "abcdefghijklmnop", Name: "Élan vital", Description: "line one\nline two", Size: 1234,
		InfoHash:   "0123456789abcdef0123456789abcdef01234567",
		Magnet:     "magnet:?xt=urn:btih:0123456789abcdef0123456789abcdef01234567&dn=x",
		TorrentURL: "http://a.example:9001/api/v1/videos/abcdefghijklmnop/torrent",
		WebseedURL: "http://a.example:9001/static/webseed/abcdefghijklmnop.mp4",
		Pod:        "http://a.example:9001", Owner: "alice", CreatedAt: time.Now(),
	}
}

func TestCheckVideo(t *testing.T) {
	t.Parallel()
	const origin = "http://a.example:9001"
	cases := []struct {
		name   string
		mutate func(v *api.Video)
		ok     bool
	}{
		{"good", func(v *api.Video) {}, true},
		{"empty pod field", func(v *api.Video) { v.Pod = "" }, true},
		{"short id", func(v *api.Video) { v.ID = "abc" }, false},
		{"upper id", func(v *api.Video) { v.ID = "ABCDEFGHIJKLMNOP" }, false},
		{"empty name", func(v *api.Video) { v.Name = "" }, false},
		{"long name", func(v *api.Video) { v.Name = strings.Repeat("é", MaxNameRunes+1) }, false},
		{"control in name", func(v *api.Video) { v.Name = "a\x00b" }, false},
		{"bad utf8", func(v *api.Video) { v.Description = "\xff" }, false},
		{"zero size", func(v *api.Video) { v.Size = 0 }, false},
		{"short hash", func(v *api.Video) { v.InfoHash = "0123" }, false},
		{"non-hex hash", func(v *api.Video) { v.InfoHash = strings.Repeat("z", 40) }, false},
		{"magnet of other hash", func(v *api.Video) { v.Magnet = "magnet:?xt=urn:btih:" + strings.Repeat("1", 40) }, false},
		{"torrent on other host", func(v *api.Video) { v.TorrentURL = "http://evil.example/x.torrent" }, false},
		{"webseed javascript", func(v *api.Video) { v.WebseedURL = "javascript:alert(1)" }, false},
		{"webseed with credentials", func(v *api.Video) { v.WebseedURL = "http://u:p@a.example:9001/x" }, false},
		{"other pod", func(v *api.Video) { v.Pod = "http://c.example" }, false},
		{"no owner", func(v *api.Video) { v.Owner = "" }, false},
		{"huge piece", func(v *api.Video) { v.PieceLength = 1 << 40 }, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v := goodVideo()
			tc.mutate(&v)
			err := CheckVideo(origin, v)
			if (err == nil) != tc.ok {
				t.Fatalf("CheckVideo = %v, want ok=%v", err, tc.ok)
			}
			if err != nil && !errors.Is(err, ErrInvalid) {
				t.Fatalf("error does not wrap ErrInvalid: %v", err)
			}
		})
	}
}

func TestCheckEvent(t *testing.T) {
	t.Parallel()
	const origin = "http://a.example:9001"
	v := goodVideo()
	m := MirrorRef{VideoPod: "http://b.example", VideoID: v.ID, InfoHash: strings.Repeat("ab", 20),
		WebseedURL: origin + "/static/mirror/x.mp4", TorrentURL: origin + "/api/v1/videos/x/torrent"}
	lower := api.MirrorFile{InfoHash: strings.Repeat("cd", 20), WebseedURL: origin + "/static/webseed/y.mp4",
		TorrentURL: origin + "/api/v1/videos/x/torrent?resolution=240"}
	cases := []struct {
		name string
		e    Event
		ok   bool
	}{
		{"add", Event{Origin: origin, Seq: 1, Type: EventAdd, Video: &v}, true},
		{"update", Event{Origin: origin, Seq: 2, Type: EventUpdate, Video: &v}, true},
		{"remove", Event{Origin: origin, Seq: 3, Type: EventRemove, VideoID: v.ID}, true},
		{"other origin", Event{Origin: "http://c.example", Seq: 1, Type: EventAdd, Video: &v}, false},
		{"zero seq", Event{Origin: origin, Type: EventAdd, Video: &v}, false},
		{"add without video", Event{Origin: origin, Seq: 1, Type: EventAdd}, false},
		{"remove with video", Event{Origin: origin, Seq: 1, Type: EventRemove, VideoID: v.ID, Video: &v}, false},
		{"remove bad id", Event{Origin: origin, Seq: 1, Type: EventRemove, VideoID: "../x"}, false},
		{"unknown type", Event{Origin: origin, Seq: 1, Type: "delete-all"}, false},
		{"mirror", Event{Origin: origin, Seq: 4, Type: EventMirror, Mirror: &m}, true},
		{"unmirror", Event{Origin: origin, Seq: 5, Type: EventUnmirror, Mirror: &m}, true},
		{"mirror without ref", Event{Origin: origin, Seq: 4, Type: EventMirror}, false},
		{"mirror with video", Event{Origin: origin, Seq: 4, Type: EventMirror, Mirror: &m, Video: &v}, false},
		{"add with mirror", Event{Origin: origin, Seq: 4, Type: EventAdd, Mirror: &m, Video: &v}, false},
		{"mirror of own video", Event{Origin: origin, Seq: 4, Type: EventMirror, Mirror: withMirror(m, func(m *MirrorRef) { m.VideoPod = origin })}, false},
		{"mirror web seed elsewhere", Event{Origin: origin, Seq: 4, Type: EventMirror, Mirror: withMirror(m, func(m *MirrorRef) { m.WebseedURL = "http://c.example/static/mirror/x.mp4" })}, false},
		{"mirror torrent elsewhere", Event{Origin: origin, Seq: 4, Type: EventMirror, Mirror: withMirror(m, func(m *MirrorRef) { m.TorrentURL = "http://a.example:90011/t" })}, false},
		{"mirror bad hash", Event{Origin: origin, Seq: 4, Type: EventMirror, Mirror: withMirror(m, func(m *MirrorRef) { m.InfoHash = strings.ToUpper(m.InfoHash) })}, false},
		{"mirror bad id", Event{Origin: origin, Seq: 4, Type: EventMirror, Mirror: withMirror(m, func(m *MirrorRef) { m.VideoID = "x" })}, false},
		{"mirror bad pod", Event{Origin: origin, Seq: 4, Type: EventMirror, Mirror: withMirror(m, func(m *MirrorRef) { m.VideoPod = "ftp://b" })}, false},
		{"mirror with files", Event{Origin: origin, Seq: 4, Type: EventMirror, Mirror: withMirror(m, func(m *MirrorRef) { m.Files = []api.MirrorFile{lower} })}, true},
		{"mirror file web seed elsewhere", Event{Origin: origin, Seq: 4, Type: EventMirror, Mirror: withMirror(m, func(m *MirrorRef) {
			m.Files = []api.MirrorFile{{InfoHash: lower.InfoHash, WebseedURL: "http://c.example/x.mp4", TorrentURL: lower.TorrentURL}}
		})}, false},
		{"mirror file torrent elsewhere", Event{Origin: origin, Seq: 4, Type: EventMirror, Mirror: withMirror(m, func(m *MirrorRef) {
			m.Files = []api.MirrorFile{{InfoHash: lower.InfoHash, WebseedURL: lower.WebseedURL, TorrentURL: "http://c.example/t"}}
		})}, false},
		{"mirror file bad hash", Event{Origin: origin, Seq: 4, Type: EventMirror, Mirror: withMirror(m, func(m *MirrorRef) {
			m.Files = []api.MirrorFile{{InfoHash: "cd", WebseedURL: lower.WebseedURL, TorrentURL: lower.TorrentURL}}
		})}, false},
		{"mirror file is the best file", Event{Origin: origin, Seq: 4, Type: EventMirror, Mirror: withMirror(m, func(m *MirrorRef) {
			m.Files = []api.MirrorFile{{InfoHash: m.InfoHash, WebseedURL: lower.WebseedURL, TorrentURL: lower.TorrentURL}}
		})}, false},
		{"mirror too many files", Event{Origin: origin, Seq: 4, Type: EventMirror, Mirror: withMirror(m, func(m *MirrorRef) {
			for i := range MaxMirrorFiles + 1 {
				m.Files = append(m.Files, api.MirrorFile{InfoHash: fmt.Sprintf("%040x", i+1), WebseedURL: lower.WebseedURL, TorrentURL: lower.TorrentURL})
			}
		})}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := CheckEvent(origin, tc.e); (err == nil) != tc.ok {
				t.Fatalf("CheckEvent = %v, want ok=%v", err, tc.ok)
			}
		})
	}
	if got := (Event{Origin: origin, Seq: 7}).ID(); got != origin+"#7" {
		t.Fatalf("ID = %q", got)
	}
}

func withMirror(m MirrorRef, f func(*MirrorRef)) *MirrorRef {
	f(&m)
	return &m
}

func TestNormalizePodURLAndVersions(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"http://localhost:9001":   "http://localhost:9001",
		"http://LocalHost:9001/":  "http://localhost:9001",
		"https://pod.example.org": "https://pod.example.org",
		"ftp://x":                 "",
		"http://x/path":           "",
		"http://u@x":              "",
		"http://x?q":              "",
		"localhost:9001":          "",
		"":                        "",
		"http://localhost:99999":  "",
		"http://localhost:0":      "",
		"http://localhost:":       "",
		"http://[::1]:65535":      "http://[::1]:65535",
		"http://[::1]":            "http://[::1]",
		"http://[::1]:65536":      "",
	} {
		got, err := NormalizePodURL(in)
		if (err != nil) != (want == "") || got != want {
			t.Errorf("NormalizePodURL(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, tc := range []struct {
		ours, theirs []string
		want         string
	}{
		{[]string{"v1"}, []string{"v1"}, "v1"},
		{[]string{"v1", "v2"}, []string{"v2", "v1"}, "v2"},
		{[]string{"v1"}, []string{"v2"}, ""},
		{[]string{"v1"}, nil, ""},
		{[]string{"x1"}, []string{"x1"}, ""},
	} {
		if got := CommonVersion(tc.ours, tc.theirs); got != tc.want {
			t.Errorf("CommonVersion(%v, %v) = %q, want %q", tc.ours, tc.theirs, got, tc.want)
		}
	}
}

// FuzzParseSignature: parsing never panics, and whatever parses
// formats back to something that parses to the same values.
func FuzzParseSignature(f *testing.F) {
	for _, tc := range sigCases {
		f.Add(tc.in)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParseSignature(s)
		if err != nil {
			return
		}
		if p.KeyID == "" || len(p.Signature) == 0 {
			t.Fatalf("accepted without keyId or signature: %q", s)
		}
		if strings.ContainsAny(p.KeyID, `"`) {
			return // String cannot quote it; the verifier never formats
		}
		q, err := ParseSignature(p.String())
		if err != nil || q.KeyID != p.KeyID || !bytes.Equal(q.Signature, p.Signature) {
			t.Fatalf("round trip of %q: %v", s, err)
		}
	})
}

// FuzzDecodeBatch: a received batch body never panics the decoder or the
// validator, and validated events have the fields their type needs.
func FuzzDecodeBatch(f *testing.F) {
	v := goodVideo()
	seed, _ := json.Marshal(Batch{Events: []Event{
		{Origin: "http://a.example:9001", Seq: 1, Type: EventAdd, Video: &v},
		{Origin: "http://a.example:9001", Seq: 2, Type: EventRemove, VideoID: v.ID},
	}})
	f.Add(seed)
	f.Add([]byte(`{"events":[]}`))
	f.Add([]byte(`{"events":[{"origin":"http://a.example:9001","seq":1,"type":"add"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var b Batch
		if json.Unmarshal(data, &b) != nil {
			return
		}
		for _, e := range b.Events {
			if CheckEvent("http://a.example:9001", e) != nil {
				continue
			}
			if e.Type == EventRemove && !ValidVideoID(e.VideoID) || e.Type != EventRemove && e.Video == nil {
				t.Fatalf("accepted malformed event %+v", e)
			}
		}
	})
}

// FuzzDecodeIntroduction: Hello, HelloResult and CatalogPage bodies never
// panic the decoders or validators, and a page CheckPage accepts always
// advances: ids strictly increasing above after, Next empty or the last.
func FuzzDecodeIntroduction(f *testing.F) {
	v := goodVideo()
	page, _ := json.Marshal(CatalogPage{Videos: []api.Video{v}, Next: v.ID})
	f.Add([]byte(`{"pod":{"url":"http://a.example:9001","name":"a","api_versions":["v1"],"public_key":"k"},"seq":3}`), "")
	f.Add([]byte(`{"status":"accepted","pod":{"url":"http://a.example"},"friends":["http://b.example"]}`), "")
	f.Add(page, "")
	f.Add(page, v.ID)
	f.Add([]byte(`{"videos":[{"id":"b"},{"id":"a"}],"next":"a"}`), "")
	f.Fuzz(func(t *testing.T, data []byte, after string) {
		var h Hello
		if json.Unmarshal(data, &h) == nil {
			_ = CheckPodRef(h.Pod)
		}
		var hr HelloResult
		if json.Unmarshal(data, &hr) == nil {
			_ = CheckPodRef(hr.Pod)
		}
		var p CatalogPage
		if json.Unmarshal(data, &p) != nil || CheckPage(after, p) != nil {
			return
		}
		prev := after
		for _, v := range p.Videos {
			if v.ID <= prev {
				t.Fatalf("accepted a page that does not advance: %q after %q", v.ID, prev)
			}
			prev = v.ID
		}
		if p.Next != "" && p.Next != prev {
			t.Fatalf("accepted next %q, last id %q", p.Next, prev)
		}
		if len(p.Videos) > MaxCatalogVideos {
			t.Fatalf("accepted %d videos", len(p.Videos))
		}
	})
}
