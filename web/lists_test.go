package web

import (
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/swarmtube/swarmtube/server/api"
)

func TestTimeAgo(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		ago  time.Duration
		want string
	}{
		{0, "now"},
		{20 * time.Second, "20 seconds ago"},
		{61 * time.Second, "1 minute ago"},
		{150 * time.Second, "3 minutes ago"},
		{2 * time.Hour, "2 hours ago"},
		{26 * time.Hour, "yesterday"},
		{3 * 24 * time.Hour, "3 days ago"},
		{8 * 24 * time.Hour, "last week"},
		{400 * 24 * time.Hour, "last year"},
		{-2 * time.Hour, "in 2 hours"},
		{-30 * time.Hour, "tomorrow"},
	} {
		if got := timeAgo(now.Add(-tc.ago), now); got != tc.want {
			t.Errorf("timeAgo(%v ago) = %q, want %q", tc.ago, got, tc.want)
		}
	}
	if got := timeAgo(time.Time{}, now); got != "" {
		t.Errorf("zero time: %q", got)
	}
}

func TestCardText(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		n    int64
		want string
	}{{0, ""}, {1, "1 view"}, {999, "999 views"}, {1234, "1,234 views"}, {1234567, "1,234,567 views"}} {
		if got := viewsText(tc.n); got != tc.want {
			t.Errorf("viewsText(%d) = %q, want %q", tc.n, got, tc.want)
		}
	}
	for _, tc := range []struct{ name, want string }{
		{"Sunset over the harbour", "SO"}, {"  éclair au chocolat", "ÉA"}, {"(4K) ride", "4R"}, {"", "?"}, {"— …", "?"},
	} {
		if got := initials(tc.name); got != tc.want {
			t.Errorf("initials(%q) = %q, want %q", tc.name, got, tc.want)
		}
	}
	for _, tc := range []struct {
		page, total int
		where, past string
	}{
		{1, 0, "", ""}, {1, 24, "", ""}, {1, 25, "Page 1 of 2", ""}, {2, 25, "Page 2 of 2", ""},
		{99, 25, "", "There is no page 99: this list has 2 pages."}, {3, 0, "", "There is no page 3: this list has 1 page."},
	} {
		p := newPager(tc.page, tc.total, func(int) string { return "" })
		if p.Where != tc.where || p.Past != tc.past {
			t.Errorf("page %d of %d items: %+v", tc.page, tc.total, p)
		}
	}
}

type fakeCatalog struct{ videos []api.Video }

func (c fakeCatalog) List(start, count int) (api.VideoList, error) {
	start = min(start, len(c.videos))
	return api.VideoList{Total: len(c.videos), Data: c.videos[start:min(len(c.videos), start+count)]}, nil
}
func (c fakeCatalog) ListByOwner(_ string, start, count int) (api.VideoList, error) {
	return c.List(start, count)
}
func (c fakeCatalog) Search(_ string, start, count int) (api.VideoList, error) {
	return c.List(start, count)
}

// TestCardImages: cards show the thumbnail at its size (no layout shift),
// lazily below the first rows, and the duration; a video without a
// thumbnail (or with a URL that is not http(s)) keeps its initials.
func TestCardImages(t *testing.T) {
	t.Parallel()
	var videos []api.Video
	for i := range 12 {
		v := api.Video{ID: fmt.Sprintf("%016d", i), Name: fmt.Sprint("clip ", i), Duration: 65.4, Size: 1 << 20, Local: true,
			ThumbnailURL: fmt.Sprintf("https://pod.example/static/images/%016d-thumb-0123456789abcdef.jpg", i)}
		videos = append(videos, v)
	}
	videos[1].ThumbnailURL = "javascript:alert(1)"
	videos[2].Duration = 3723
	mux := http.NewServeMux()
	Routes(mux, Options{PodURL: "https://pod.example", Catalog: fakeCatalog{videos}})
	body := get(mux, "/", nil).Body.String()
	for _, want := range []string{
		`<img src="https://pod.example/static/images/0000000000000000-thumb-0123456789abcdef.jpg" alt="" width="320" height="180" decoding="async">`,
		`<img src="https://pod.example/static/images/0000000000000011-thumb-0123456789abcdef.jpg" alt="" width="320" height="180" decoding="async" loading="lazy">`,
		`<span class="duration">1:05</span>`,
		`<span class="duration">1:02:03</span>`,
		`<span class="initials">C1</span>`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("home page lacks %s", want)
		}
	}
	if strings.Contains(body, "javascript:") || strings.Count(body, `loading="lazy"`) != 12-eagerCards-0 {
		t.Errorf("%d lazy images, or a script URL", strings.Count(body, `loading="lazy"`))
	}
	for secs, want := range map[float64]string{0: "", 0.4: "0:00", 59.6: "1:00", 600: "10:00", 36000: "10:00:00"} {
		if got := durationText(secs); got != want {
			t.Errorf("durationText(%v) = %q, want %q", secs, got, want)
		}
	}
}

// TestPageParam: a ?page= that is not one page number (negative, zero,
// not a number, past the API's bound on start, given twice) is a 400 page
// saying what a page number is, on every list page; before, it quietly
// showed page 1 (or the last page the API allows). A number past the
// list's end is still a page: the pager says there is no such page.
func TestPageParam(t *testing.T) {
	t.Parallel()
	mux := http.NewServeMux()
	Routes(mux, Options{PodURL: "https://pod.example", Catalog: fakeCatalog{make([]api.Video, 30)}})
	for _, list := range []string{"/?", "/search?q=a&", "/users/alice?"} {
		for _, tc := range []struct {
			query  string
			status int
			words  string
		}{
			{"page=-1", 400, "The page number (page=) must be a whole number from 1 to 41667"},
			{"page=0", 400, "must be a whole number"},
			{"page=x", 400, "must be a whole number"},
			{"page=2.5", 400, "must be a whole number"},
			{"page=", 400, "must be a whole number"},
			{"page=41668", 400, "must be a whole number"},
			{"page=99999999999999999999", 400, "must be a whole number"},
			{"page=1&page=2", 400, "page&#34; is given twice; give it once"},
			{"page=%zz", 400, "The query string is malformed"},
			{"page=2&utm_source=a&utm_source=b&fbclid=%zz", 200, "Page 2 of 2"},
			{"page=2", 200, "Page 2 of 2"},
			{"page=41667", 200, "There is no page 41667"},
			{"", 200, "Page 1 of 2"},
		} {
			w := get(mux, list+tc.query, nil)
			if w.Code != tc.status || !strings.Contains(w.Body.String(), tc.words) {
				t.Errorf("GET %s%s: %d, want %d with %q", list, tc.query, w.Code, tc.status, tc.words)
			}
			if tc.status == 400 && !strings.Contains(w.Body.String(), "This request cannot be answered") {
				t.Errorf("GET %s%s: not the error page", list, tc.query)
			}
		}
	}
}

// TestSearchWording pins what the search page and the README say search
// does to what it does (issue 17 item 28): names and descriptions are
// searched, each word a prefix, one-letter words whole, name matches
// first (server/videos' index; TestSearch* there). Before, the page's
// description and its empty state still said "by name".
func TestSearchWording(t *testing.T) {
	t.Parallel()
	mux := http.NewServeMux()
	Routes(mux, Options{PodURL: "https://pod.example", Catalog: fakeCatalog{}})
	for _, path := range []string{"/search", "/search?q=an"} {
		body := get(mux, path, nil).Body.String()
		for _, want := range []string{
			"Names and descriptions of this pod's and its friends' videos are searched",
			"matches the start of words (a one-letter word, whole words only)",
			"videos whose name matches come first",
			`<meta name="description" content="Search the videos of this Swarmtube pod and its friends by words of their name or description.">`,
		} {
			if !strings.Contains(body, want) {
				t.Errorf("GET %s lacks %q", path, want)
			}
		}
		for _, wrong := range []string{"by name.", "video’s name in", "video&rsquo;s name in"} {
			if strings.Contains(body, wrong) {
				t.Errorf("GET %s says search is by name only: %q", path, wrong)
			}
		}
	}
	if body := get(mux, "/search", nil).Body.String(); !strings.Contains(body, "Type words from a video’s name or description") {
		t.Error("the empty search page does not say names and descriptions are searched")
	}
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(readme), "| `/search?q=` | videos whose name or description matches (case- and accent-insensitive; each word a prefix, one-letter words whole; name matches first)") {
		t.Error("README's /search row no longer says what search matches")
	}
}
