package web

import (
	"html/template"
	"math"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/swarmtube/swarmtube/server/api"
	"github.com/swarmtube/swarmtube/server/httpx"
)

// watchData is what the watch page renders in the HTML for a published
// video, so its title, details, links and player element are there before
// (and without) the page's script, for crawlers and link previews, and
// nothing moves when the script arrives. watch.js then binds the buttons
// and starts the player in the <video> it finds.
type watchData struct {
	Poster      string
	Date        string // "Nov 30, 2026", as ui.js formatDate in English
	Size        string
	Views       string
	PodURL      string // the origin pod, when an http(s) URL
	PodHost     string
	Description template.HTML // linkified, escaped
	Magnet      template.URL  // magnet: is not a URL html/template trusts
	Torrent     string
	Webseed     string
	// Starts are the engine's stream URLs of the video's files, best
	// first, each with its first request's size (webseed.StartHandler:
	// earlyBudget's second of media) and what player.js pickAuto weighs:
	// the page's head script (engine/start.js) picks one as pickAuto would
	// and points the <video> at it as the parser reaches the element, on a
	// first visit, instead of when the page's modules run (after its first
	// paint: 150-200 ms later, BENCHMARKS.md). None for a video this pod
	// does not serve.
	Starts  []startFile
	CanEdit bool // the viewer owns the video or is an admin
	// Qualities are the quality menu's entries after "Auto", best first,
	// as player.js labels them; empty for a video with one file (no menu).
	Qualities []quality
}

// quality is one entry of the watch page's quality menu: the value
// player.js's setQuality takes (the resolution) and its label.
type quality struct{ Value, Label string }

func newWatchData(v api.Video, viewer *api.User) *watchData {
	w := &watchData{
		Views:       viewsText(v.Views),
		Description: linkify(v.Description),
		Magnet:      template.URL(safeURL(v.Magnet, "magnet")),
		Torrent:     safeURL(v.TorrentURL),
		Webseed:     safeURL(v.WebseedURL),
	}
	if len(v.Files) > 1 {
		for _, f := range v.Files {
			q := quality{Value: strconv.Itoa(f.Resolution), Label: "Original"}
			if f.Resolution > 0 {
				q.Label = q.Value + "p"
			}
			w.Qualities = append(w.Qualities, q)
		}
	}
	w.Starts = startFiles(v)
	if v.CreatedAt.Year() >= 2000 {
		w.Date = v.CreatedAt.Local().Format("Jan 2, 2006")
	}
	if v.Size > 0 {
		w.Size = httpx.SizeText(v.Size)
	}
	if u := safeURL(v.Pod); u != "" {
		w.PodURL, w.PodHost = u, podHost(u)
	}
	if viewer != nil && v.Local {
		w.CanEdit = viewer.Username == v.Owner || hasRight(viewer, api.RightAdmin)
	}
	return w
}

func hasRight(u *api.User, right string) bool {
	for _, r := range u.Rights {
		if r == right || r == api.RightAdmin {
			return true
		}
	}
	return false
}

// safeURL returns u when it is an absolute http(s) URL (or of one of the
// extra schemes), else "": as ui.js safeURL, so no javascript: link comes
// from a friend pod's data.
func safeURL(u string, extraSchemes ...string) string {
	p, err := url.Parse(u)
	if err != nil || u == "" {
		return ""
	}
	switch s := strings.ToLower(p.Scheme); {
	case (s == "http" || s == "https") && p.Host != "":
		return u
	case s != "" && contains(extraSchemes, s):
		return u
	}
	return ""
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// urlPattern and trailPattern are ui.js's linkify rules: http(s) URLs in
// plain text, without the punctuation that usually ends a sentence.
var (
	urlPattern   = regexp.MustCompile(`https?://[^\s<>"]+`)
	trailPattern = regexp.MustCompile(`[).,;:!?'\]]+$`)
)

// linkify escapes text and makes its http(s) URLs links (rel "nofollow
// ugc noopener": the text is a user's), exactly as ui.js linkify does in
// the browser after an edit; TestWatchRendered compares the two.
func linkify(text string) template.HTML {
	var b strings.Builder
	last := 0
	for _, m := range urlPattern.FindAllStringIndex(text, -1) {
		u := text[m[0]:m[1]]
		if t := trailPattern.FindString(u); t != "" {
			u = u[:len(u)-len(t)]
		}
		href := safeURL(u)
		if href == "" {
			continue
		}
		b.WriteString(template.HTMLEscapeString(text[last:m[0]]))
		b.WriteString(`<a href="` + template.HTMLEscapeString(href) + `" rel="nofollow ugc noopener">` + template.HTMLEscapeString(u) + `</a>`)
		last = m[0] + len(u)
	}
	b.WriteString(template.HTMLEscapeString(text[last:]))
	return template.HTML(b.String())
}

// joinNonEmpty joins the non-empty parts with sep.
func joinNonEmpty(sep string, parts ...string) string {
	var out []string
	for _, p := range parts {
		if p != "" {
			out = append(out, p)
		}
	}
	return strings.Join(out, sep)
}

// startFile is one of watchData.Starts.
type startFile struct {
	URL                       string
	Resolution, Width, Height int
	Size                      int64
	Duration                  float64
}

// startFiles is watchData.Starts for v: for each file of a local video,
// the stream URL engine.js playEarly would give its <video> on a first
// visit (engine.js STREAM_BASE, its webseed and early parameters).
func startFiles(v api.Video) []startFile {
	if !v.Local {
		return nil
	}
	files := v.Files
	if len(files) == 0 {
		files = []api.VideoFile{{Resolution: min(v.Width, v.Height), Width: v.Width, Height: v.Height, Size: v.Size,
			InfoHash: v.InfoHash, WebseedURL: v.WebseedURL, PieceLength: v.PieceLength}}
	}
	name := v.Name
	if name == "" {
		name = "video"
	}
	var out []startFile
	for _, f := range files {
		if !infoHash.MatchString(f.InfoHash) || safeURL(f.WebseedURL) == "" {
			return nil // a file the page could not start: let player.js pick
		}
		q := url.Values{"webseed": {f.WebseedURL}, "early": {strconv.FormatInt(earlyBudget(f.Size, v.Duration, f.PieceLength), 10)}}
		out = append(out, startFile{URL: "/static/engine/stream/" + f.InfoHash + "/" + url.PathEscape(name) + "?" + q.Encode(),
			Resolution: f.Resolution, Width: f.Width, Height: f.Height, Size: f.Size, Duration: v.Duration})
	}
	return out
}

var infoHash = regexp.MustCompile(`^[0-9a-f]{40}$`)

// earlyBudget is engine.js earlyBudget: the bytes of a first visit's first
// request, one second of media at the file's mean bitrate (length bytes ÷
// duration seconds) in whole pieces, at least one piece, at most 1 MiB
// (sw.js EARLY_BUDGET) and the file; 1 MiB when the bitrate is not known.
// TestEarlyBudget holds both to one table.
func earlyBudget(length int64, duration float64, pieceLength int64) int64 {
	const most, chunk = 1 << 20, 256 << 10 // EARLY_PREFETCH, EARLY_CHUNK
	if length <= 0 || !(duration > 0) {
		return most
	}
	unit := pieceLength
	if unit <= 0 {
		unit = chunk
	}
	want := int64(math.Ceil(float64(length)/duration/float64(unit))) * unit
	return min(max(want, unit), most, length)
}
