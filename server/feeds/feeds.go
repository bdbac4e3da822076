// Package feeds serves the pod's newest videos as web feeds, so people can
// follow a pod or one of its users in a feed reader, and podcast-style
// clients can fetch the files:
//
//	GET /feeds/videos.xml    RSS 2.0 (https://www.rssboard.org/rss-specification)
//	GET /feeds/videos.atom   Atom 1.0 (RFC 4287)
//
// Both list the newest published videos of the pod and its friends, or with
// ?user=NAME that local user's videos, at most Count of them. Each item
// links to the pod's watch page and carries the file as an enclosure
// pointing at its web seed (RSS <enclosure>, Atom <link rel="enclosure">),
// with its size and type. An unknown user gives an empty feed; a malformed
// one a 400. Answers may be cached for five minutes.
package feeds

import (
	"encoding/xml"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/swarmtube/swarmtube/server/api"
	"github.com/swarmtube/swarmtube/server/httpx"
)

// Count is how many videos a feed lists.
const Count = 50

// Source lists videos, newest first (videos.Service).
type Source interface {
	List(start, count int) (api.VideoList, error)
	ListByOwner(owner string, start, count int) (api.VideoList, error)
}

// Handler serves the feeds of one pod.
type Handler struct {
	PodURL  string // public base URL, no trailing slash
	PodName string
	Videos  Source
	Log     *slog.Logger
}

// Routes mounts the feeds on mux.
func (h *Handler) Routes(mux *http.ServeMux) {
	mux.HandleFunc("GET /feeds/videos.xml", h.rss)
	mux.HandleFunc("GET /feeds/videos.atom", h.atom)
}

// feed is what both formats say.
type feed struct {
	title, self, home string
	videos            []api.Video
	updated           time.Time
}

func (h *Handler) load(w http.ResponseWriter, r *http.Request, path string) (*feed, bool) {
	user := strings.ToLower(strings.TrimSpace(r.URL.Query().Get("user")))
	f := &feed{title: h.PodName + ": newest videos", self: h.PodURL + path, home: h.PodURL + "/"}
	var list api.VideoList
	var err error
	switch {
	case user == "":
		list, err = h.Videos.List(0, Count)
	case len(user) > 64 || strings.ContainsAny(user, "/?#&\x00"):
		httpx.WriteError(w, r, h.Log, httpx.Errorf(http.StatusBadRequest, "bad_user", "user must be a username"))
		return nil, false
	default:
		f.title = user + " on " + h.PodName
		f.self += "?user=" + url.QueryEscape(user)
		f.home = h.PodURL + "/users/" + url.PathEscape(user)
		list, err = h.Videos.ListByOwner(user, 0, Count)
	}
	if err != nil {
		httpx.WriteError(w, r, h.Log, err)
		return nil, false
	}
	for _, v := range list.Data {
		if v.State != "" && v.State != api.StatePublished {
			continue // processing or failed: nothing to watch yet
		}
		f.videos = append(f.videos, v)
		if v.CreatedAt.After(f.updated) {
			f.updated = v.CreatedAt
		}
	}
	if f.updated.IsZero() {
		f.updated = time.Unix(0, 0).UTC()
	}
	return f, true
}

func (h *Handler) watchURL(v api.Video) string {
	return h.PodURL + "/videos/" + url.PathEscape(v.ID)
}

func contentType(v api.Video) string {
	if v.ContentType != "" {
		return v.ContentType
	}
	return "video/mp4"
}

func write(w http.ResponseWriter, ctype string, doc any) {
	w.Header().Set("Content-Type", ctype)
	w.Header().Set("Cache-Control", "public, max-age=300")
	_, _ = w.Write([]byte(xml.Header))
	enc := xml.NewEncoder(w)
	enc.Indent("", " ")
	_ = enc.Encode(doc) // a write error means the client left
}

// RSS 2.0, with atom:link rel=self as the RSS Advisory Board recommends.
type rssDoc struct {
	XMLName xml.Name   `xml:"rss"`
	Version string     `xml:"version,attr"`
	AtomNS  string     `xml:"xmlns:atom,attr"`
	DCNS    string     `xml:"xmlns:dc,attr"`
	MediaNS string     `xml:"xmlns:media,attr"`
	Channel rssChannel `xml:"channel"`
}

type rssChannel struct {
	Title       string    `xml:"title"`
	Link        string    `xml:"link"`
	Description string    `xml:"description"`
	Self        rssSelf   `xml:"atom:link"`
	Generator   string    `xml:"generator"`
	LastBuild   string    `xml:"lastBuildDate"`
	Items       []rssItem `xml:"item"`
}

type rssSelf struct {
	Href string `xml:"href,attr"`
	Rel  string `xml:"rel,attr"`
	Type string `xml:"type,attr"`
}

type rssItem struct {
	Title       string        `xml:"title"`
	Link        string        `xml:"link"`
	GUID        rssGUID       `xml:"guid"`
	PubDate     string        `xml:"pubDate"`
	Creator     string        `xml:"dc:creator,omitempty"`
	Description string        `xml:"description,omitempty"`
	Enclosure   *rssEnclosure `xml:"enclosure,omitempty"`
	Thumbnail   *mediaThumb   `xml:"media:thumbnail,omitempty"`
}

// mediaNS is Media RSS (https://www.rssboard.org/media-rss), whose
// media:thumbnail readers show beside an item; the video's thumbnail is
// 320×180 (server/ffmpeg).
const mediaNS = "http://search.yahoo.com/mrss/"

type mediaThumb struct {
	URL    string `xml:"url,attr"`
	Width  int    `xml:"width,attr"`
	Height int    `xml:"height,attr"`
}

// thumbnail is v's media:thumbnail, nil when it has none.
func thumbnail(v api.Video) *mediaThumb {
	if v.ThumbnailURL == "" {
		return nil
	}
	return &mediaThumb{URL: v.ThumbnailURL, Width: 320, Height: 180}
}

type rssGUID struct {
	IsPermaLink string `xml:"isPermaLink,attr"`
	Value       string `xml:",chardata"`
}

type rssEnclosure struct {
	URL    string `xml:"url,attr"`
	Length string `xml:"length,attr"`
	Type   string `xml:"type,attr"`
}

func (h *Handler) rss(w http.ResponseWriter, r *http.Request) {
	f, ok := h.load(w, r, "/feeds/videos.xml")
	if !ok {
		return
	}
	doc := rssDoc{Version: "2.0", AtomNS: "http://www.w3.org/2005/Atom", DCNS: "http://purl.org/dc/elements/1.1/", MediaNS: mediaNS, Channel: rssChannel{
		Title: f.title, Link: f.home, Description: "Videos shared peer to peer on " + h.PodName + ".",
		Self:      rssSelf{Href: f.self, Rel: "self", Type: "application/rss+xml"},
		Generator: "Swarmtube", LastBuild: f.updated.UTC().Format(time.RFC1123Z),
	}}
	for _, v := range f.videos {
		it := rssItem{Title: v.Name, Link: h.watchURL(v), GUID: rssGUID{IsPermaLink: "true", Value: h.watchURL(v)},
			PubDate: v.CreatedAt.UTC().Format(time.RFC1123Z), Creator: v.Owner, Description: v.Description, Thumbnail: thumbnail(v)}
		if v.WebseedURL != "" {
			it.Enclosure = &rssEnclosure{URL: v.WebseedURL, Length: strconv.FormatInt(v.Size, 10), Type: contentType(v)}
		}
		doc.Channel.Items = append(doc.Channel.Items, it)
	}
	write(w, "application/rss+xml; charset=utf-8", doc)
}

// Atom 1.0 (RFC 4287).
type atomDoc struct {
	XMLName xml.Name    `xml:"http://www.w3.org/2005/Atom feed"`
	MediaNS string      `xml:"xmlns:media,attr"`
	ID      string      `xml:"id"`
	Title   string      `xml:"title"`
	Updated string      `xml:"updated"`
	Links   []atomLink  `xml:"link"`
	Gen     string      `xml:"generator"`
	Entries []atomEntry `xml:"entry"`
}

type atomLink struct {
	Rel    string `xml:"rel,attr"`
	Href   string `xml:"href,attr"`
	Type   string `xml:"type,attr,omitempty"`
	Length string `xml:"length,attr,omitempty"`
}

type atomEntry struct {
	ID        string      `xml:"id"`
	Title     string      `xml:"title"`
	Updated   string      `xml:"updated"`
	Published string      `xml:"published"`
	Author    *atomAuthor `xml:"author,omitempty"`
	Links     []atomLink  `xml:"link"`
	Summary   string      `xml:"summary,omitempty"`
	Thumbnail *mediaThumb `xml:"media:thumbnail,omitempty"`
}

type atomAuthor struct {
	Name string `xml:"name"`
}

func (h *Handler) atom(w http.ResponseWriter, r *http.Request) {
	f, ok := h.load(w, r, "/feeds/videos.atom")
	if !ok {
		return
	}
	doc := atomDoc{MediaNS: mediaNS, ID: f.self, Title: f.title, Updated: f.updated.UTC().Format(time.RFC3339), Gen: "Swarmtube",
		Links: []atomLink{{Rel: "self", Href: f.self, Type: "application/atom+xml"}, {Rel: "alternate", Href: f.home, Type: "text/html"}}}
	for _, v := range f.videos {
		e := atomEntry{ID: h.watchURL(v), Title: v.Name, Updated: v.CreatedAt.UTC().Format(time.RFC3339),
			Published: v.CreatedAt.UTC().Format(time.RFC3339), Summary: v.Description, Thumbnail: thumbnail(v),
			Links: []atomLink{{Rel: "alternate", Href: h.watchURL(v), Type: "text/html"}}}
		// RFC 4287 4.1.1: an entry without an author takes the feed's; the
		// feed has none, so every entry names one.
		e.Author = &atomAuthor{Name: v.Owner}
		if v.Owner == "" {
			e.Author.Name = h.PodName
		}
		if v.WebseedURL != "" {
			e.Links = append(e.Links, atomLink{Rel: "enclosure", Href: v.WebseedURL, Type: contentType(v), Length: strconv.FormatInt(v.Size, 10)})
		}
		doc.Entries = append(doc.Entries, e)
	}
	write(w, "application/atom+xml; charset=utf-8", doc)
}
