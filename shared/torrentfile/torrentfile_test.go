package torrentfile

import (
	"bytes"
	"context"
	"crypto/sha1" //nolint:gosec // BitTorrent v1
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/anacrolix/torrent/bencode"
	"github.com/anacrolix/torrent/metainfo"
)

func TestPieceLength(t *testing.T) {
	t.Parallel()
	const KiB, MiB, GiB = 1 << 10, 1 << 20, 1 << 30
	for _, tc := range []struct {
		size, want int64
	}{
		{0, 256 * KiB},
		{1, 256 * KiB},
		{256 * MiB, 256 * KiB},
		{256*MiB + 1, 512 * KiB},
		{512 * MiB, 512 * KiB},
		{512*MiB + 1, 1 * MiB},
		{40 * GiB, 1 * MiB},
	} {
		if got := PieceLength(tc.size); got != tc.want {
			t.Errorf("PieceLength(%d) = %d, want %d", tc.size, got, tc.want)
		}
		if got := PieceLength(tc.size); got%BlockSize != 0 {
			t.Errorf("PieceLength(%d) = %d, not a multiple of the block size", tc.size, got)
		}
	}
}

func TestFileName(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		title, ext, want string
	}{
		{"My Holiday", "mp4", "my-holiday.mp4"},
		{"My Holiday", ".MP4", "my-holiday.mp4"},
		{"  Élan vital! (2024) ", "webm", "elan-vital-2024.webm"},
		{"Straße & Œuvre — ça", "ogv", "strasse-oeuvre-ca.ogv"},
		{"e\u0301te\u0301", "mp4", "ete.mp4"}, // decomposed accents
		{"../../etc/passwd", "mp4", "etc-passwd.mp4"},
		{"日本語", "mp4", "video.mp4"},
		// Windows device names, with any extension: a client there
		// could not save "con.mp4" (it was the name).
		{"CON", "mp4", "con-video.mp4"},
		{"Aux!", "webm", "aux-video.webm"},
		{"nul", "", "nul-video"},
		{"LPT9", "mp4", "lpt9-video.mp4"},
		{"com0", "mp4", "com0-video.mp4"},
		{"com10", "mp4", "com10.mp4"},
		{"console", "mp4", "console.mp4"},
		{"con air", "mp4", "con-air.mp4"},
		{"", "", "video"},
		{"clip", "m p/4", "clip.mp4"},
		{"clip", "averyverylongext", "clip.averyver"},
		{strings.Repeat("ab ", 100), "mp4", strings.Repeat("ab-", 26) + "ab.mp4"},
		{strings.Repeat("abc ", 30), "mp4", strings.Repeat("abc-", 19) + "abc.mp4"}, // cut at 80 bytes, no trailing hyphen
	} {
		got := FileName(tc.title, tc.ext)
		if got != tc.want {
			t.Errorf("FileName(%q, %q) = %q, want %q", tc.title, tc.ext, got, tc.want)
		}
		if err := validName(got); err != nil {
			t.Errorf("FileName(%q, %q) = %q: %v", tc.title, tc.ext, got, err)
		}
	}
}

// pattern returns n deterministic pseudo-random bytes.
func pattern(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func TestHashReader(t *testing.T) {
	t.Parallel()
	data := pattern(3*BlockSize*16+12345, 1) // 3 full 256 KiB pieces and a short one
	const pl = 256 << 10
	var progress []int64
	info, err := HashReader(context.Background(), bytes.NewReader(data), "x.mp4", int64(len(data)), pl, func(n int64) { progress = append(progress, n) })
	if err != nil {
		t.Fatal(err)
	}
	if info.NumPieces() != 4 || len(info.Pieces) != 80 {
		t.Fatalf("pieces: %d (%d bytes)", info.NumPieces(), len(info.Pieces))
	}
	for i := range 4 {
		end := min(int64(i+1)*pl, int64(len(data)))
		if got, want := info.PieceHash(i), sha1.Sum(data[int64(i)*pl:end]); got != want { //nolint:gosec // BitTorrent v1
			t.Errorf("piece %d hash mismatch", i)
		}
		if info.PieceSize(i) != end-int64(i)*pl {
			t.Errorf("PieceSize(%d) = %d", i, info.PieceSize(i))
		}
	}
	if want := []int64{pl, 2 * pl, 3 * pl, int64(len(data))}; !reflect.DeepEqual(progress, want) {
		t.Errorf("progress = %v, want %v", progress, want)
	}

	for _, tc := range []struct {
		name    string
		size    int64
		ctx     func() context.Context
		wantErr error
	}{
		{"short input", int64(len(data)) + 1, context.Background, ErrSizeMismatch},
		{"long input", int64(len(data)) - 1, context.Background, ErrSizeMismatch},
		{"cancelled", int64(len(data)), func() context.Context {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			return ctx
		}, context.Canceled},
		{"empty", 0, context.Background, ErrInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := HashReader(tc.ctx(), bytes.NewReader(data), "x.mp4", tc.size, pl, nil)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
		})
	}
}

// TestMatchesAnacrolix checks the hashes against an independent
// implementation: anacrolix/torrent, which the pod's seeder runs.
func TestMatchesAnacrolix(t *testing.T) {
	t.Parallel()
	for _, size := range []int{1, BlockSize, 256 << 10, 600<<10 + 7} {
		data := pattern(size, uint64(size))
		path := filepath.Join(t.TempDir(), "clip.mp4")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		pl := PieceLength(int64(size))
		info, err := HashReader(context.Background(), bytes.NewReader(data), "clip.mp4", int64(size), pl, nil)
		if err != nil {
			t.Fatal(err)
		}
		ref := metainfo.Info{PieceLength: pl}
		if err := ref.BuildFromFilePath(path); err != nil {
			t.Fatal(err)
		}
		refBytes, err := bencode.Marshal(ref)
		if err != nil {
			t.Fatal(err)
		}
		ours, err := info.Bencode()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(ours, refBytes) {
			t.Errorf("size %d: info bencoding differs from anacrolix:\n ours %q\n ref  %q", size, ours[:min(80, len(ours))], refBytes[:min(80, len(refBytes))])
		}
	}
}

func testMetainfo(t *testing.T) Metainfo {
	t.Helper()
	data := pattern(700<<10, 7)
	info, err := HashReader(context.Background(), bytes.NewReader(data), FileName("Test clip", "mp4"), int64(len(data)), PieceLength(int64(len(data))), nil)
	if err != nil {
		t.Fatal(err)
	}
	return Metainfo{
		Info:         info,
		AnnounceList: [][]string{{"ws://127.0.0.1:9000/tracker/socket"}, {"http://127.0.0.1:9000/tracker/announce"}},
		URLList:      []string{"http://127.0.0.1:9000/static/webseed/test-clip.mp4"},
		CreatedBy:    "swarmtube",
		CreationDate: 1700000000,
		Comment:      "a comment",
	}
}

func TestMetainfoRoundTrip(t *testing.T) {
	t.Parallel()
	m := testMetainfo(t)
	b, err := m.Bencode()
	if err != nil {
		t.Fatal(err)
	}
	got, ih, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, m) {
		t.Errorf("round trip:\n got %+v\nwant %+v", got, m)
	}
	want, _ := m.Info.InfoHash()
	if ih != want {
		t.Errorf("Parse info hash %x, Info.InfoHash %x", ih, want)
	}

	// anacrolix reads the same torrent the same way.
	mi, err := metainfo.Load(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if mi.HashInfoBytes() != metainfo.Hash(ih) {
		t.Errorf("anacrolix info hash %x, ours %x", mi.HashInfoBytes(), ih)
	}
	if mi.Announce != m.AnnounceList[0][0] || !reflect.DeepEqual([][]string(mi.AnnounceList), m.AnnounceList) || !reflect.DeepEqual([]string(mi.UrlList), m.URLList) {
		t.Errorf("anacrolix sees announce %q, list %v, url-list %v", mi.Announce, mi.AnnounceList, mi.UrlList)
	}
}

// TestGolden pins the exact bytes of a torrent so a change in encoding,
// which would change every info hash and split swarms, cannot go unnoticed.
func TestGolden(t *testing.T) {
	t.Parallel()
	b, err := testMetainfo(t).Bencode()
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "test-clip.torrent")
	if os.Getenv("UPDATE_GOLDEN") == "1" {
		if err := os.WriteFile(golden, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b, want) {
		t.Fatalf("encoding of %s changed (UPDATE_GOLDEN=1 only if that is intended)", golden)
	}
	_, ih, err := Parse(want)
	if err != nil {
		t.Fatal(err)
	}
	const wantHash = "1dbdc1624882d50f7f749653fafaf99cfc0f39aa"
	if got := metainfo.Hash(ih).HexString(); got != wantHash {
		t.Errorf("info hash %s, want %s", got, wantHash)
	}
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	m := testMetainfo(t)
	info, _ := m.Info.Bencode()
	wrap := func(infoBytes string) string { return "d4:info" + infoBytes + "e" }
	for _, tc := range parseErrorCases(string(info)) {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := Parse([]byte(tc.in))
			if !errors.Is(err, tc.want) {
				t.Fatalf("Parse(%q) err = %v, want %v", tc.in[:min(len(tc.in), 60)], err, tc.want)
			}
		})
	}
	// Sanity: the valid base case parses.
	if _, _, err := Parse([]byte(wrap(string(info)))); err != nil {
		t.Fatal(err)
	}
}

type parseCase struct {
	name string
	in   string
	want error
}

func parseErrorCases(info string) []parseCase {
	pieces := "6:pieces20:" + strings.Repeat("x", 20)
	return []parseCase{
		{"empty", "", ErrInvalid},
		{"not a dict", "i1e", ErrInvalid},
		{"no info", "d3:fooi1ee", ErrInvalid},
		{"trailing bytes", "d4:info" + info + "ex", ErrInvalid},
		{"unsorted keys", "d4:info" + info + "8:announce3:urle", ErrInvalid},
		{"duplicate keys", "d4:info" + info + "4:info" + info + "e", ErrInvalid},
		{"leading zero int", "d13:creation datei01e4:info" + info + "e", ErrInvalid},
		{"negative zero", "d13:creation datei-0e4:info" + info + "e", ErrInvalid},
		{"string too long", "d4:info" + info + "7:comment99:xe", ErrInvalid},
		{"huge string length", "d7:comment99999999999999999999:xe", ErrInvalid},
		{"deep nesting", "d7:comment" + strings.Repeat("l", 100) + strings.Repeat("e", 100) + "e", ErrInvalid},
		{"comment not a string", "d7:commenti1e4:info" + info + "e", ErrInvalid},
		{"multi-file", "d4:infod5:filesle4:name1:x12:piece lengthi16384e" + pieces + "ee", ErrUnsupported},
		{"private", "d4:infod6:lengthi1e4:name1:x12:piece lengthi16384e" + pieces + "7:privatei1eee", ErrUnsupported},
		{"zero length", "d4:infod6:lengthi0e4:name1:x12:piece lengthi16384e6:pieces0:ee", ErrInvalid},
		{"pieces count", "d4:infod6:lengthi99999e4:name1:x12:piece lengthi16384e" + pieces + "ee", ErrInvalid},
		{"piece length not pow2", "d4:infod6:lengthi1e4:name1:x12:piece lengthi20000e" + pieces + "ee", ErrInvalid},
		{"slash in name", "d4:infod6:lengthi1e4:name3:a/b12:piece lengthi16384e" + pieces + "ee", ErrInvalid},
		{"dotdot name", "d4:infod6:lengthi1e4:name2:..12:piece lengthi16384e" + pieces + "ee", ErrInvalid},
		{"announce-list not list", "d13:announce-listi1e4:info" + info + "e", ErrInvalid},
		{"url-list of ints", "d4:info" + info + "8:url-listli1eee", ErrInvalid},
	}
}

func TestParseURLListString(t *testing.T) {
	t.Parallel()
	info, _ := testMetainfo(t).Info.Bencode()
	m, _, err := Parse([]byte("d8:announce5:http:4:info" + string(info) + "8:url-list5:http:e"))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(m.URLList, []string{"http:"}) || !reflect.DeepEqual(m.AnnounceList, [][]string{{"http:"}}) {
		t.Errorf("got url-list %v, announce-list %v", m.URLList, m.AnnounceList)
	}
}

func FuzzParse(f *testing.F) {
	data := pattern(40<<10, 3)
	info, err := HashReader(context.Background(), bytes.NewReader(data), "a.mp4", int64(len(data)), BlockSize, nil)
	if err != nil {
		f.Fatal(err)
	}
	m := Metainfo{Info: info, AnnounceList: [][]string{{"ws://h/tracker/socket"}, {"http://h/tracker/announce"}}, URLList: []string{"http://h/static/webseed/a.mp4"}, CreationDate: 5}
	good, _ := m.Bencode()
	f.Add(good)
	infoBytes, _ := info.Bencode()
	for _, tc := range parseErrorCases(string(infoBytes)) {
		f.Add([]byte(tc.in))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, ih, err := Parse(b)
		if err != nil {
			return
		}
		// Whatever parses re-encodes to something that parses to the same.
		again, err := m.Bencode()
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		m2, ih2, err := Parse(again)
		if err != nil {
			t.Fatalf("re-parse: %v", err)
		}
		if ih != ih2 {
			t.Fatalf("info hash changed: %x -> %x", ih, ih2)
		}
		if want, _ := m.Info.InfoHash(); want != ih {
			t.Fatalf("Info.InfoHash %x != parsed %x", want, ih)
		}
		if !reflect.DeepEqual(m.Info, m2.Info) {
			t.Fatalf("info changed on round trip")
		}
	})
}
