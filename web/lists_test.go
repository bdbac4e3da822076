package web

import (
	"testing"
	"time"
)

func TestTimeAgo(t *testing.T) {
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
