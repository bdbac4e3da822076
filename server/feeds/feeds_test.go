package feeds

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"testing"
	"time"

	"log/slog"

	"github.com/swarmtube/swarmtube/internal/testenv"
	"github.com/swarmtube/swarmtube/server/api"
)

type fakeSource struct{ videos []api.Video }

func (f fakeSource) List(start, count int) (api.VideoList, error) {
	return api.VideoList{Total: len(f.videos), Data: f.videos}, nil
}

func (f fakeSource) ListByOwner(owner string, start, count int) (api.VideoList, error) {
	var out []api.Video
	for _, v := range f.videos {
		if v.Owner == owner {
			out = append(out, v)
		}
	}
	return api.VideoList{Total: len(out), Data: out}, nil
}

// parsed is what Debian's python3-feedparser (the reference feed parser of
// most readers) makes of a feed.
type parsed struct {
	Bozo      bool   `json:"bozo"`
	Exception string `json:"exception"`
	Version   string `json:"version"`
	Title     string `json:"title"`
	Entries   []struct {
		Title      string `json:"title"`
		Link       string `json:"link"`
		Author     string `json:"author"`
		Published  string `json:"published"`
		Thumbnail  string `json:"thumbnail"`
		Enclosures []struct {
			Href   string `json:"href"`
			Length string `json:"length"`
			Type   string `json:"type"`
		} `json:"enclosures"`
	} `json:"entries"`
}

const parseScript = `
import feedparser, json, sys
d = feedparser.parse(sys.stdin.buffer.read())
print(json.dumps({
  "bozo": bool(d.bozo), "exception": str(d.get("bozo_exception", "")), "version": d.version,
  "title": d.feed.get("title", ""),
  "entries": [{"title": e.get("title", ""), "link": e.get("link", ""), "author": e.get("author", ""),
               "published": e.get("published", ""), "thumbnail": (e.get("media_thumbnail") or [{}])[0].get("url", ""),
               "enclosures": [{"href": x.get("href", ""), "length": str(x.get("length", "")), "type": x.get("type", "")} for x in e.get("enclosures", [])]}
              for e in d.entries]}))
`

func feedparser(t *testing.T, body []byte) parsed {
	t.Helper()
	py := "/usr/bin/python3" // Debian's, where python3-feedparser is installed
	if err := exec.Command(py, "-c", "import feedparser").Run(); err != nil {
		testenv.Missing(t, "Debian's python3-feedparser is not installed (run `make test`)")
	}
	cmd := exec.Command(py, "-c", parseScript)
	cmd.Stdin = strings.NewReader(string(body))
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("feedparser: %v", err)
	}
	var p parsed
	if err := json.Unmarshal(out, &p); err != nil {
		t.Fatalf("feedparser output: %v: %s", err, out)
	}
	return p
}

func TestFeedsParse(t *testing.T) {
	t.Parallel()
	created := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	src := fakeSource{videos: []api.Video{
		{ID: "aaaaaaaaaaaaaaaa", Name: "Élan <vital> & co", Description: "a <b>bold</b> claim", Owner: "alice", Size: 12345,
			WebseedURL: "https://pod.example/static/webseed/aaaaaaaaaaaaaaaa.mp4", ContentType: "video/mp4", CreatedAt: created, State: api.StatePublished,
			ThumbnailURL: "https://pod.example/static/images/aaaaaaaaaaaaaaaa-thumb-0123456789abcdef.jpg"},
		{ID: "bbbbbbbbbbbbbbbb", Name: "still processing", Owner: "alice", CreatedAt: created.Add(time.Hour), State: api.StateProcessing},
		{ID: "cccccccccccccccc", Name: "bob's", Owner: "bob", Size: 1, WebseedURL: "https://pod.example/static/webseed/c.webm", ContentType: "video/webm",
			CreatedAt: created.Add(-time.Hour), State: api.StatePublished},
	}}
	mux := http.NewServeMux()
	(&Handler{PodURL: "https://pod.example", PodName: "Pod Example", Videos: src, Log: slog.New(slog.DiscardHandler)}).Routes(mux)
	for _, tc := range []struct {
		path, version, ctype, title string
		entries                     []string
	}{
		{"/feeds/videos.xml", "rss20", "application/rss+xml", "Pod Example: newest videos", []string{"Élan <vital> & co", "bob's"}},
		{"/feeds/videos.atom", "atom10", "application/atom+xml", "Pod Example: newest videos", []string{"Élan <vital> & co", "bob's"}},
		{"/feeds/videos.xml?user=alice", "rss20", "application/rss+xml", "alice on Pod Example", []string{"Élan <vital> & co"}},
		{"/feeds/videos.atom?user=BOB", "atom10", "application/atom+xml", "bob on Pod Example", []string{"bob's"}},
		{"/feeds/videos.atom?user=nobody", "atom10", "application/atom+xml", "nobody on Pod Example", nil},
	} {
		t.Run(tc.path, func(t *testing.T) {
			w := httptest.NewRecorder()
			mux.ServeHTTP(w, httptest.NewRequest("GET", tc.path, nil))
			if w.Code != 200 || !strings.HasPrefix(w.Header().Get("Content-Type"), tc.ctype) {
				t.Fatalf("%d %q", w.Code, w.Header().Get("Content-Type"))
			}
			p := feedparser(t, w.Body.Bytes())
			if p.Bozo || p.Version != tc.version || p.Title != tc.title {
				t.Fatalf("feedparser: bozo=%v (%s) version %q title %q\n%s", p.Bozo, p.Exception, p.Version, p.Title, w.Body)
			}
			if len(p.Entries) != len(tc.entries) {
				t.Fatalf("%d entries, want %v", len(p.Entries), tc.entries)
			}
			for i, e := range p.Entries {
				if e.Title != tc.entries[i] || !strings.HasPrefix(e.Link, "https://pod.example/videos/") || e.Author == "" || e.Published == "" {
					t.Errorf("entry %d: %+v", i, e)
				}
				// The video with a thumbnail names it (Media RSS), the other none.
				if wantThumb := strings.HasPrefix(e.Title, "Élan"); (e.Thumbnail != "") != wantThumb ||
					(wantThumb && e.Thumbnail != "https://pod.example/static/images/aaaaaaaaaaaaaaaa-thumb-0123456789abcdef.jpg") {
					t.Errorf("entry %d thumbnail %q", i, e.Thumbnail)
				}
				if len(e.Enclosures) != 1 || !strings.HasPrefix(e.Enclosures[0].Href, "https://pod.example/static/webseed/") ||
					e.Enclosures[0].Length == "" || !strings.HasPrefix(e.Enclosures[0].Type, "video/") {
					t.Errorf("entry %d enclosures: %+v", i, e.Enclosures)
				}
			}
		})
	}
	w := httptest.NewRecorder()
	mux.ServeHTTP(w, httptest.NewRequest("GET", "/feeds/videos.xml?user=a/b", nil))
	if w.Code != 400 {
		t.Errorf("a malformed user: %d, want 400", w.Code)
	}
}
