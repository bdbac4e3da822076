package videos

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/swarmtube/swarmtube/server/api"
	"github.com/swarmtube/swarmtube/server/federation/fedproto"
	"github.com/swarmtube/swarmtube/shared/media"
	"github.com/swarmtube/swarmtube/shared/torrentfile"
)

func infoHashOf(tb []byte) ([20]byte, error) {
	_, ih, err := torrentfile.Parse(tb)
	return ih, err
}

var idRE = regexp.MustCompile(`^[a-z2-7]{16}$`)

func TestUploadMultipart(t *testing.T) {
	fast, _ := clips(t)
	p := newPod(t)
	status, v, code := p.upload("alice", "  Élan vital <b>bold</b> & co  ", "line one\r\nline two\twith tab", fast)
	if status != http.StatusCreated {
		t.Fatalf("upload: %d %s", status, code)
	}
	if !idRE.MatchString(v.ID) || v.Name != "Élan vital <b>bold</b> & co" || v.Description != "line one\nline two\twith tab" ||
		v.Size != int64(len(fast)) || v.Owner != "alice" || !v.Local || v.Pod != p.srv.URL || v.ContentType != "video/mp4" {
		t.Fatalf("video object: %+v", v)
	}
	ws := "ws://" + strings.TrimPrefix(p.srv.URL, "http://") + "/tracker/socket"
	webseed := p.srv.URL + "/static/webseed/" + v.ID + ".mp4"
	if v.WebseedURL != webseed || v.TorrentURL != p.srv.URL+"/api/v1/videos/"+v.ID+"/torrent" {
		t.Fatalf("urls: %s %s", v.WebseedURL, v.TorrentURL)
	}
	m, err := torrentfile.ParseMagnet(v.Magnet)
	if err != nil || hex.EncodeToString(m.InfoHash[:]) != v.InfoHash ||
		len(m.Trackers) != 2 || m.Trackers[0] != ws || m.Trackers[1] != p.srv.URL+"/tracker/announce" ||
		len(m.WebSeeds) != 1 || m.WebSeeds[0] != webseed {
		t.Fatalf("magnet %q: %+v %v", v.Magnet, m, err)
	}

	var got api.Video
	if s := p.getJSON("", "/api/v1/videos/"+v.ID, &got); s != 200 || !reflect.DeepEqual(got, v) {
		t.Fatalf("get: %d %+v", s, got)
	}

	resp, tb := p.do("", "GET", "/api/v1/videos/"+v.ID+"/torrent", nil, nil)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/x-bittorrent" {
		t.Fatalf("torrent: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	mi, ih, err := torrentfile.Parse(tb)
	if err != nil {
		t.Fatal(err)
	}
	if hex.EncodeToString(ih[:]) != v.InfoHash || mi.Info.Name != torrentfile.FileName(v.Name, "mp4") ||
		mi.Info.Name != "elan-vital-b-bold-b-co.mp4" || mi.Info.PieceLength != torrentfile.PieceLength(v.Size) {
		t.Fatalf("torrent info: %+v", mi.Info)
	}
	if len(mi.AnnounceList) != 2 || mi.AnnounceList[0][0] != ws || mi.AnnounceList[1][0] != p.srv.URL+"/tracker/announce" ||
		len(mi.URLList) != 1 || mi.URLList[0] != webseed {
		t.Fatalf("torrent trackers %v, url-list %v", mi.AnnounceList, mi.URLList)
	}
	// A browser hashing the same bytes under the same name gets the same hash.
	info, err := torrentfile.HashReader(context.Background(), bytes.NewReader(fast), torrentfile.FileName(v.Name, media.MP4.Ext()), int64(len(fast)), torrentfile.PieceLength(int64(len(fast))), nil)
	if err != nil {
		t.Fatal(err)
	}
	if bh, _ := info.InfoHash(); bh != ih {
		t.Fatal("browser-side hash differs from the pod's")
	}

	// Seeded at once from the stored file; known to the tracker; web seed resolves.
	path, ok := p.seeder.path(ih)
	if !ok {
		t.Fatal("not seeded")
	}
	if stored, err := os.ReadFile(path); err != nil || !bytes.Equal(stored, fast) {
		t.Fatalf("stored file differs: %v", err)
	}
	if !p.svc.Known(ih) || p.svc.Known([20]byte{1}) {
		t.Fatal("Known is wrong")
	}
	if wp, ok := p.svc.ResolveWebseed(v.ID + ".mp4"); !ok || wp != path {
		t.Fatalf("webseed resolves to %q %v", wp, ok)
	}
	for _, bad := range []string{"../" + v.ID + ".mp4", ".tmp-x", v.ID + ".webm", "", "pod.db"} {
		if _, ok := p.svc.ResolveWebseed(bad); ok {
			t.Fatalf("webseed resolved %q", bad)
		}
	}
	if ev := p.outbox.all(); len(ev) != 1 || ev[0].kind != fedproto.EventAdd || !reflect.DeepEqual(ev[0].v, v) {
		t.Fatalf("outbox: %+v", ev)
	}
	// The same bytes under the same name again: refused, nothing left.
	if status, _, code := p.upload("bob", v.Name, "", fast); status != http.StatusConflict || code != "duplicate_video" {
		t.Fatalf("duplicate: %d %s", status, code)
	}
	if n := len(p.files("videos")); n != 1 {
		t.Fatalf("%d files in videos/ after a refused duplicate", n)
	}
}

// TestUploadSameBytesIsTold: the same bytes under other names are new
// videos (another name is another torrent), but the answer names the
// pod's other copies, oldest first, so the uploader is told (issue 17
// item 13: "uploading the same bytes twice gives two videos with no
// word"). Other bytes have none.
func TestUploadSameBytesIsTold(t *testing.T) {
	fast, slow := clips(t)
	p := newPod(t)
	upload := func(name string, file []byte) api.Uploaded {
		t.Helper()
		body, ct := multipartBody(t, map[string]string{"name": name}, "clip.mp4", file)
		resp, b := p.do("alice", "POST", "/api/v1/videos", body, map[string]string{"Content-Type": ct})
		var out api.Uploaded
		if resp.StatusCode != http.StatusCreated || json.Unmarshal(b, &out) != nil {
			t.Fatalf("upload %q: %d %s", name, resp.StatusCode, b)
		}
		return out
	}
	first := upload("first", fast)
	if len(first.Duplicates) != 0 {
		t.Fatalf("a first upload has duplicates: %+v", first.Duplicates)
	}
	if other := upload("other bytes", slow); len(other.Duplicates) != 0 {
		t.Fatalf("other bytes have duplicates: %+v", other.Duplicates)
	}
	second := upload("second", fast)
	third := upload("third", fast)
	if second.ID == first.ID || len(second.Duplicates) != 1 || second.Duplicates[0] != (api.VideoRef{ID: first.ID, Name: "first", URL: p.srv.URL + "/videos/" + first.ID}) {
		t.Fatalf("second upload: %+v", second.Duplicates)
	}
	if len(third.Duplicates) != 2 || third.Duplicates[0].ID != first.ID || third.Duplicates[1].ID != second.ID {
		t.Fatalf("third upload: %+v", third.Duplicates)
	}
	// The same name too: the same torrent, refused, with its address.
	body, ct := multipartBody(t, map[string]string{"name": "first"}, "clip.mp4", fast)
	resp, b := p.do("alice", "POST", "/api/v1/videos", body, map[string]string{"Content-Type": ct})
	if resp.StatusCode != http.StatusConflict || !strings.Contains(string(b), p.srv.URL+"/videos/"+first.ID) {
		t.Fatalf("same name: %d %s", resp.StatusCode, b)
	}
}

func TestUploadFaststartRewrite(t *testing.T) {
	_, slow := clips(t)
	p := newPod(t)
	status, v, code := p.upload("alice", "slow start", "", slow)
	if status != http.StatusCreated {
		t.Fatalf("upload: %d %s", status, code)
	}
	var want bytes.Buffer
	if rewritten, _, err := media.Faststart(&want, bytes.NewReader(slow), int64(len(slow))); err != nil || !rewritten {
		t.Fatalf("reference faststart: %v %v", rewritten, err)
	}
	stored, err := os.ReadFile(filepath.Join(p.dir, "videos", v.ID+".mp4"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(stored, want.Bytes()) || v.Size != int64(want.Len()) {
		t.Fatal("stored file is not the faststart rewrite")
	}
	l, err := media.PlanFaststart(bytes.NewReader(stored), int64(len(stored)))
	if err != nil || l.NeedsRewrite() {
		t.Fatalf("stored file still needs faststart: %v", err)
	}
	// The browser rewrites then hashes: same info hash.
	info, err := torrentfile.HashReader(context.Background(), bytes.NewReader(want.Bytes()), torrentfile.FileName("slow start", "mp4"), int64(want.Len()), torrentfile.PieceLength(int64(want.Len())), nil)
	if err != nil {
		t.Fatal(err)
	}
	if ih, _ := info.InfoHash(); hex.EncodeToString(ih[:]) != v.InfoHash {
		t.Fatal("info hash differs from the browser's computation")
	}
	if names := p.files("videos"); len(names) != 1 {
		t.Fatalf("videos/ holds %v", names)
	}
}

func TestUploadRefused(t *testing.T) {
	fast, _ := clips(t)
	p := newPod(t, withMaxSize(int64(len(fast))+1000))
	big := append(append([]byte(nil), fast...), make([]byte, 2000)...)
	broken := append([]byte(nil), fast[:64]...) // ftyp then a cut box
	cases := []struct {
		name, user, title, desc string
		file                    []byte
		status                  int
		code                    string
	}{
		{"text renamed mp4", "alice", "t", "", []byte("just some text, saved as clip.mp4\n"), 415, "not_a_video"},
		{"empty file", "alice", "t", "", []byte{}, 400, "empty_file"},
		{"oversized", "alice", "t", "", big, 413, "too_large"},
		{"broken mp4", "alice", "t", "", broken, 415, "invalid_video"},
		{"control character in name", "alice", "bad\x07name", "", fast, 400, "invalid_name"},
		{"bidi override in name", "alice", "evil\u202Eexe.mp4", "", fast, 400, "invalid_name"},
		{"empty name", "alice", "   ", "", fast, 400, "invalid_name"},
		{"name too long", "alice", strings.Repeat("é", 121), "", fast, 400, "invalid_name"},
		{"invalid utf-8", "alice", "a\xffb", "", fast, 400, "invalid_name"},
		{"control in description", "alice", "ok", "a\x00b", fast, 400, "invalid_description"},
		{"description too long", "alice", "ok", strings.Repeat("x", 5001), fast, 400, "invalid_description"},
		{"no upload right", "carol", "ok", "", fast, 403, "forbidden"},
		{"anonymous", "", "ok", "", fast, 401, "unauthorized"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, _, code := p.upload(tc.user, tc.title, tc.desc, tc.file)
			if status != tc.status || code != tc.code {
				t.Fatalf("got %d %s, want %d %s", status, code, tc.status, tc.code)
			}
			if f := p.files("videos"); len(f) != 0 {
				t.Fatalf("left on disk: %v", f)
			}
			if f := p.files("torrents"); len(f) != 0 {
				t.Fatalf("left on disk: %v", f)
			}
		})
	}
	// Not multipart at all, and a form without a file.
	resp, _ := p.do("alice", "POST", "/api/v1/videos", strings.NewReader("{}"), map[string]string{"Content-Type": "application/json"})
	if resp.StatusCode != 400 {
		t.Fatalf("json body: %d", resp.StatusCode)
	}
	body, ct := multipartBody(t, map[string]string{"name": "x"}, "", nil)
	resp, _ = p.do("alice", "POST", "/api/v1/videos", body, map[string]string{"Content-Type": ct})
	if resp.StatusCode != 400 {
		t.Fatalf("no file: %d", resp.StatusCode)
	}
	var list api.VideoList
	if p.getJSON("", "/api/v1/videos", &list); list.Total != 0 {
		t.Fatalf("refused uploads were listed: %+v", list)
	}
}

// Ogg Theora is transcoded: see TestTranscodeCorpus; without ffmpeg, TestUploadOggWithoutFFmpeg.
func TestUploadWebMAndOgg(t *testing.T) {
	testenvFFmpeg := clipsFFmpeg(t)
	p := newPod(t)
	for _, tc := range []struct {
		args []string
		ext  string
		ct   string
	}{
		{[]string{"-c:v", "libvpx", "-b:v", "200k", "-f", "webm"}, "webm", "video/webm"},
	} {
		data := testenvFFmpeg(t, tc.ext, tc.args...)
		status, v, code := p.upload("alice", "clip "+tc.ext, "", data)
		if status != http.StatusCreated {
			t.Fatalf("%s: %d %s", tc.ext, status, code)
		}
		if v.ContentType != tc.ct || !strings.HasSuffix(v.WebseedURL, "."+tc.ext) || v.Size != int64(len(data)) {
			t.Fatalf("%s: %+v", tc.ext, v)
		}
	}
}

// TestUploadOggWithoutFFmpeg: a pod without ffmpeg publishes Ogg as it is.
func TestUploadOggWithoutFFmpeg(t *testing.T) {
	data := clipsFFmpeg(t)(t, "ogv", "-c:v", "libtheora", "-f", "ogg")
	p := newPod(t, withoutFFmpeg())
	status, v, code := p.upload("alice", "clip ogv", "", data)
	if status != http.StatusCreated || v.ContentType != "video/ogg" || !strings.HasSuffix(v.WebseedURL, ".ogv") || v.Size != int64(len(data)) {
		t.Fatalf("%d %s %+v", status, code, v)
	}
}
