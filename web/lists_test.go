package web

import (
	"fmt"
	"net/http"
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
