package web

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/swarmtube/swarmtube/server/api"
	"github.com/swarmtube/swarmtube/server/httpx"
)

// Catalog is what the list pages show, the same lists the public API
// serves (*videos.Service): count videos after skipping start, with the
// total.
type Catalog interface {
	List(start, count int) (api.VideoList, error)
	ListByOwner(owner string, start, count int) (api.VideoList, error)
	Search(q string, start, count int) (api.VideoList, error)
}

// Paging of the list pages: PerPage cards a page, and no page whose first
// card lies beyond maxListStart (the API's own bound on start), so an
// anonymous request costs at most one bounded list.
const (
	PerPage      = 24
	maxListStart = 1_000_000
	maxQuery     = 1000 // bytes of ?q=, as the search API takes
	maxUsername  = 64
)

// listData is a server-rendered list of video cards (home, search, a
// user's page), drawn by the "videolist" template.
type listData struct {
	Heading string
	Cards   []card
	Empty   string // shown when there is no card
	Error   string // the list could not be read
	Pager   pager
	Query   string // the search page's words
	FeedURL string // a user's feed
}

// card is one video of a list, as ui.js's videoCard drew it.
type card struct {
	Href, Name, Initials, Size, Meta string
	Hue                              uint32
	Created                          string // RFC 3339, for <time datetime>
	// Thumbnail is the video's thumbnail URL ("" none: the initials show);
	// Lazy says it is below the fold, loaded as it scrolls into view.
	Thumbnail string
	Lazy      bool
	Duration  string // "1:05", "1:02:03"; "" when unknown
}

// eagerCards are the cards of a page whose thumbnails load at once: the
// first rows, above the fold on a wide screen.
const eagerCards = 8

// durationText writes seconds as the players' clocks do: m:ss, or h:mm:ss
// from an hour; "" for an unknown (zero) duration.
func durationText(secs float64) string {
	if !(secs > 0) {
		return ""
	}
	s := int64(secs + 0.5)
	if s >= 3600 {
		return fmt.Sprintf("%d:%02d:%02d", s/3600, s/60%60, s%60)
	}
	return fmt.Sprintf("%d:%02d", s/60, s%60)
}

// pager links to the neighbouring pages; Past says a page beyond the last
// was asked for and links to the last real one.
type pager struct {
	Prev, Next, Where string
	Past, PastHref    string
	PastLink          string
}

// listPage fills d.List for the list pages. It returns the error page's
// error when the request is not a page: 404 for a bad or unknown user
// name, 400 for a ?page= that is not a page number (pageParam) or a page
// or q given twice or badly escaped. The query is read through
// httpx.QueryValue only, so that what the page does not read (a shared
// link's utm_source, fbclid) is never refused (TestPageQuery).
func (s *site) listPage(d *pageData, r *http.Request) *httpx.Error {
	catalog := s.opts.Catalog
	if catalog == nil {
		catalog = emptyCatalog{}
	}
	page, e := pageParam(r)
	if e != nil {
		return e
	}
	start := (page - 1) * PerPage
	l := &listData{}
	var (
		res    api.VideoList
		err    error
		hrefOf func(int) string
	)
	switch d.Name {
	case "home":
		l.Heading = "Newest videos"
		l.Empty = "No videos yet. Be the first to upload one!"
		hrefOf = func(p int) string {
			if p > 1 {
				return "/?page=" + strconv.Itoa(p)
			}
			return "/"
		}
		res, err = catalog.List(start, PerPage)
	case "search":
		q, _, e := httpx.QueryValue(r, "q")
		if e != nil {
			return e
		}
		q = strings.TrimSpace(q)
		if len(q) > maxQuery {
			q = q[:maxQuery]
		}
		l.Query = q
		if q == "" {
			l.Heading = "Search"
			l.Empty = "Type words from a video’s name or description in the search box."
			d.List = l
			return nil
		}
		d.Title = q + " · Search"
		l.Empty = "No video matches “" + q + "”."
		hrefOf = func(p int) string {
			u := "/search?q=" + url.QueryEscape(q)
			if p > 1 {
				u += "&page=" + strconv.Itoa(p)
			}
			return u
		}
		res, err = catalog.Search(q, start, PerPage)
		l.Heading = httpx.Count(int64(res.Total), "result") + " for “" + q + "”"
	case "user":
		name := r.PathValue("name")
		if name == "" || len(name) > maxUsername {
			return errNoUser
		}
		l.Heading = "Videos by " + name
		d.Title = l.Heading
		l.Empty = name + " has no videos on this pod yet."
		l.FeedURL = "/feeds/videos.xml?user=" + url.QueryEscape(name)
		hrefOf = func(p int) string {
			u := "/users/" + url.PathEscape(name)
			if p > 1 {
				u += "?page=" + strconv.Itoa(p)
			}
			return u
		}
		res, err = catalog.ListByOwner(strings.ToLower(name), start, PerPage)
	}
	d.List = l
	if err != nil && d.Name == "user" && httpx.Public(err).Status == http.StatusNotFound {
		return errNoUser // the 404 page, not an empty list
	}
	if err != nil {
		l.Error = "The videos could not be loaded: " + httpx.UserText(err)
		return nil
	}
	if len(res.Data) == 0 && page > 1 {
		l.Empty = "No more videos."
	}
	now := time.Now()
	for i, v := range res.Data {
		c := newCard(v, now)
		c.Lazy = i >= eagerCards
		l.Cards = append(l.Cards, c)
	}
	l.Pager = newPager(page, res.Total, hrefOf)
	return nil
}

// maxPage is the last page whose first card is within maxListStart.
const maxPage = maxListStart/PerPage + 1

var (
	errNoUser  = &httpx.Error{Status: http.StatusNotFound, Code: "not_found", Message: "there is no user with this name"}
	errBadPage = &httpx.Error{Status: http.StatusBadRequest, Code: "invalid_page",
		Message: fmt.Sprintf("the page number (page=) must be a whole number from 1 to %d", maxPage)}
)

// pageParam reads the 1-based ?page= of a list page: 1 when absent; the
// page's 400 when it is not one whole number from 1 to maxPage ("-1", "0",
// "x", "2.5", a number past the API's bound on start: errBadPage; given
// twice or badly escaped: httpx.QueryValue's refusal), rather than quietly
// showing another page (issue 17). A page past the list's end is a number
// all the same: the pager says there is no such page (newPager).
func pageParam(r *http.Request) (int, *httpx.Error) {
	v, ok, e := httpx.QueryValue(r, "page")
	if e != nil || !ok {
		return 1, e
	}
	p, err := strconv.Atoi(v)
	if err != nil || p < 1 || p > maxPage {
		return 0, errBadPage
	}
	return p, nil
}

func newPager(page, total int, hrefOf func(int) string) pager {
	pages := max(1, (total+PerPage-1)/PerPage)
	var p pager
	if page > pages {
		// A stale or hand-made link: say so and offer the last real page.
		p.Past = fmt.Sprintf("There is no page %d: this list has %s.", page, httpx.Count(int64(pages), "page"))
		p.PastHref = hrefOf(pages)
		p.PastLink = "Go to page " + strconv.Itoa(pages)
		if pages == 1 {
			p.PastLink = "Back to the list"
		}
		return p
	}
	if pages <= 1 {
		return p
	}
	if page > 1 {
		p.Prev = hrefOf(page - 1)
	}
	p.Where = fmt.Sprintf("Page %d of %d", page, pages)
	if page < pages {
		p.Next = hrefOf(page + 1)
	}
	return p
}

func newCard(v api.Video, now time.Time) card {
	c := card{Href: "/videos/" + url.PathEscape(v.ID), Name: v.Name, Initials: initials(v.Name)}
	if c.Name == "" {
		c.Name = "Untitled"
	}
	key := v.InfoHash
	if key == "" {
		key = v.ID
	}
	c.Hue = hue(key)
	if v.Size > 0 {
		c.Size = httpx.SizeText(v.Size)
	}
	c.Duration = durationText(v.Duration)
	if u, err := url.Parse(v.ThumbnailURL); err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" {
		c.Thumbnail = v.ThumbnailURL
	}
	var meta []string
	add := func(s string) {
		if s != "" {
			meta = append(meta, s)
		}
	}
	add(v.Owner)
	if !v.Local {
		add(podHost(v.Pod))
	}
	add(viewsText(v.Views))
	add(timeAgo(v.CreatedAt, now))
	c.Meta = strings.Join(meta, " · ")
	if v.CreatedAt.Year() >= 2000 {
		c.Created = v.CreatedAt.UTC().Format(time.RFC3339)
	}
	return c
}

// hueClass is the thumbnail colour class of a hue: one of 24 (h0…h23,
// 15° apart, in style.css), since the Content-Security-Policy refuses
// style attributes.
func hueClass(h uint32) uint32 { return h / 15 % 24 }

type emptyCatalog struct{}

func (emptyCatalog) List(int, int) (api.VideoList, error)                { return api.VideoList{}, nil }
func (emptyCatalog) ListByOwner(string, int, int) (api.VideoList, error) { return api.VideoList{}, nil }
func (emptyCatalog) Search(string, int, int) (api.VideoList, error)      { return api.VideoList{}, nil }

// hue derives a stable colour from a string for a card's thumbnail.
func hue(s string) uint32 {
	var h uint32
	for _, r := range s {
		h = h*31 + uint32(r)
	}
	return h % 360
}

// initials: the first letter or digit of the first two words that have one.
func initials(name string) string {
	var out []rune
	for _, w := range strings.Fields(name) {
		for _, r := range w {
			if unicode.IsLetter(r) || unicode.IsNumber(r) {
				out = append(out, unicode.ToUpper(r))
				break
			}
		}
		if len(out) == 2 {
			break
		}
	}
	if len(out) == 0 {
		return "?"
	}
	return string(out)
}

// podHost: "http://a.example:9000" → "a.example:9000".
func podHost(u string) string {
	p, err := url.Parse(u)
	if err != nil || p.Host == "" {
		return u
	}
	return p.Host
}

// viewsText: 0 → "", 1 → "1 view", 1234 → "1,234 views" (ui.js viewsText).
func viewsText(n int64) string {
	if n <= 0 {
		return ""
	}
	s := strconv.FormatInt(n, 10)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	if n == 1 {
		return s + " view"
	}
	return s + " views"
}

// timeAgo writes how long ago t was, in English as the pages'
// Intl.RelativeTimeFormat("en", {numeric: "auto"}) does: "now",
// "5 minutes ago", "yesterday", "last month". "" for a missing time.
func timeAgo(t, now time.Time) string {
	if t.Year() < 2000 {
		return ""
	}
	secs := now.Sub(t).Seconds()
	future := secs < 0
	if future {
		secs = -secs
	}
	for _, u := range []struct {
		name       string
		size       float64
		last, next string
	}{
		{"year", 31536000, "last year", "next year"},
		{"month", 2592000, "last month", "next month"},
		{"week", 604800, "last week", "next week"},
		{"day", 86400, "yesterday", "tomorrow"},
		{"hour", 3600, "", ""},
		{"minute", 60, "", ""},
	} {
		if secs < u.size {
			continue
		}
		n := int64(secs/u.size + 0.5)
		switch {
		case n == 1 && !future && u.last != "":
			return u.last
		case n == 1 && future && u.next != "":
			return u.next
		case future:
			return "in " + httpx.Count(n, u.name)
		}
		return httpx.Count(n, u.name) + " ago"
	}
	n := int64(secs + 0.5)
	switch {
	case n == 0:
		return "now"
	case future:
		return "in " + httpx.Count(n, "second")
	}
	return httpx.Count(n, "second") + " ago"
}
