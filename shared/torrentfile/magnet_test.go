package torrentfile

import (
	"errors"
	"reflect"
	"testing"
)

func TestMagnet(t *testing.T) {
	t.Parallel()
	var ih [20]byte
	for i := range ih {
		ih[i] = byte(i * 13)
	}
	got := Magnet(ih, "my clip.mp4", 1234,
		[]string{"ws://127.0.0.1:9000/tracker/socket", "http://127.0.0.1:9000/tracker/announce"},
		[]string{"http://127.0.0.1:9000/static/webseed/my-clip.mp4"})
	const want = "magnet:?xt=urn:btih:000d1a2734414e5b6875828f9ca9b6c3d0ddeaf7" +
		"&dn=my%20clip.mp4&xl=1234" +
		"&tr=ws%3A%2F%2F127.0.0.1%3A9000%2Ftracker%2Fsocket" +
		"&tr=http%3A%2F%2F127.0.0.1%3A9000%2Ftracker%2Fannounce" +
		"&ws=http%3A%2F%2F127.0.0.1%3A9000%2Fstatic%2Fwebseed%2Fmy-clip.mp4"
	if got != want {
		t.Fatalf("Magnet =\n %s\nwant\n %s", got, want)
	}
	m, err := ParseMagnet(got)
	if err != nil {
		t.Fatal(err)
	}
	wantLink := MagnetLink{
		InfoHash: ih, Name: "my clip.mp4", Length: 1234,
		Trackers: []string{"ws://127.0.0.1:9000/tracker/socket", "http://127.0.0.1:9000/tracker/announce"},
		WebSeeds: []string{"http://127.0.0.1:9000/static/webseed/my-clip.mp4"},
	}
	if !reflect.DeepEqual(m, wantLink) {
		t.Errorf("ParseMagnet = %+v, want %+v", m, wantLink)
	}
	if m.String() != got {
		t.Errorf("String() = %s", m.String())
	}
}

var magnetCases = []struct {
	name, in string
	want     error
}{
	{"hex", "magnet:?xt=urn:btih:000D1A2734414E5B6875828F9CA9B6C3D0DDEAF7", nil},
	{"base32", "magnet:?xt=urn:btih:AAGRUJZUIFHFW2DVQKHZZKNWYPIN32XX&dn=x", nil},
	{"plus is space", "magnet:?xt=urn:btih:000d1a2734414e5b6875828f9ca9b6c3d0ddeaf7&dn=a+b", nil},
	{"v2 alongside", "magnet:?xt=urn:btmh:1220aa&xt=urn:btih:000d1a2734414e5b6875828f9ca9b6c3d0ddeaf7", nil},
	{"not magnet", "http://x/", ErrInvalid},
	{"no xt", "magnet:?dn=x", ErrInvalid},
	{"two xt", "magnet:?xt=urn:btih:000d1a2734414e5b6875828f9ca9b6c3d0ddeaf7&xt=urn:btih:000d1a2734414e5b6875828f9ca9b6c3d0ddeaf7", ErrInvalid},
	{"short hash", "magnet:?xt=urn:btih:abcd", ErrInvalid},
	{"bad hex", "magnet:?xt=urn:btih:zz0d1a2734414e5b6875828f9ca9b6c3d0ddeaf7", ErrInvalid},
	{"bad xl", "magnet:?xt=urn:btih:000d1a2734414e5b6875828f9ca9b6c3d0ddeaf7&xl=-1", ErrInvalid},
	{"bad escape", "magnet:?xt=urn:btih:000d1a2734414e5b6875828f9ca9b6c3d0ddeaf7&dn=%zz", ErrInvalid},
}

func TestParseMagnet(t *testing.T) {
	t.Parallel()
	for _, tc := range magnetCases {
		t.Run(tc.name, func(t *testing.T) {
			m, err := ParseMagnet(tc.in)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if err == nil && m.InfoHash[1] != 0x0d {
				t.Errorf("info hash %x", m.InfoHash)
			}
		})
	}
}

func FuzzParseMagnet(f *testing.F) {
	for _, tc := range magnetCases {
		f.Add(tc.in)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := ParseMagnet(s)
		if err != nil {
			return
		}
		m2, err := ParseMagnet(m.String())
		if err != nil {
			t.Fatalf("re-parse %q: %v", m.String(), err)
		}
		if !reflect.DeepEqual(m, m2) {
			t.Fatalf("round trip: %+v != %+v", m, m2)
		}
	})
}

func TestPodTrackers(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ pod, ws, http string }{
		{"http://127.0.0.1:8000", "ws://127.0.0.1:8000/tracker/socket", "http://127.0.0.1:8000/tracker/announce"},
		{"https://pod.example", "wss://pod.example/tracker/socket", "https://pod.example/tracker/announce"},
		{"https://pod.example/tube", "wss://pod.example/tube/tracker/socket", "https://pod.example/tube/tracker/announce"},
	} {
		if ws, http := PodTrackers(tc.pod); ws != tc.ws || http != tc.http {
			t.Errorf("PodTrackers(%q) = %q, %q; want %q, %q", tc.pod, ws, http, tc.ws, tc.http)
		}
	}
}
