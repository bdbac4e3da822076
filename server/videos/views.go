package videos

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/swarmtube/swarmtube/server/clientaddr"
	"github.com/swarmtube/swarmtube/server/httpx"
	"github.com/swarmtube/swarmtube/server/store"
)

// Views are counted as PeerTube counts them: a viewer's page reports one
// after 10 s of playback (or the end of a shorter video), and a viewer
// session counts once per video. The pod remembers who it counted for
// viewWindow, in a table of at most viewTableMax entries (about 100 bytes
// each, so a few MiB at most), and counts at most viewsPerClient views per
// client address in that window, so a script cannot inflate a count
// without many addresses.
const (
	viewWindow     = 24 * time.Hour
	viewTableMax   = 100_000
	viewsPerClient = 200
	maxSessionLen  = 64
)

// viewTable is the memory of recent views; it is safe for concurrent use.
type viewTable struct {
	mu       sync.Mutex // guards the following fields
	seen     map[string]time.Time
	byClient map[netip.Addr]int
	order    []viewEntry // oldest first, for expiry
}

type viewEntry struct {
	key    string
	client netip.Addr
	at     time.Time
}

func newViewTable() *viewTable {
	return &viewTable{seen: map[string]time.Time{}, byClient: map[netip.Addr]int{}}
}

// admit reports whether a view of video id by session from client counts,
// and remembers it when it does.
func (vt *viewTable) admit(id, session string, client netip.Addr, now time.Time) bool {
	vt.mu.Lock()
	defer vt.mu.Unlock()
	for len(vt.order) > 0 && (now.Sub(vt.order[0].at) > viewWindow || len(vt.order) >= viewTableMax) {
		e := vt.order[0]
		vt.order = vt.order[1:]
		delete(vt.seen, e.key)
		if vt.byClient[e.client]--; vt.byClient[e.client] <= 0 {
			delete(vt.byClient, e.client)
		}
	}
	key := id + "\x00" + session
	if _, ok := vt.seen[key]; ok || vt.byClient[client] >= viewsPerClient {
		return false
	}
	vt.seen[key] = now
	vt.byClient[client]++
	vt.order = append(vt.order, viewEntry{key: key, client: client, at: now})
	return true
}

// CountView counts a view of video id by a viewer session (an opaque
// token of 8 to 64 characters the page makes), and returns the count.
// counted is false when this session (or this client address, past its
// allowance) was already counted. Errors: ErrBadID, ErrNotFound.
func (s *Service) CountView(ctx context.Context, id, session string, client netip.Addr) (views int64, counted bool, err error) {
	if !validID(id) {
		return 0, false, ErrBadID
	}
	if len(session) < 8 || len(session) > maxSessionLen {
		return 0, false, ErrBadSession
	}
	counted = s.views.admit(id, session, client, time.Now())
	err = s.st.Update(func(tx *bolt.Tx) error {
		rec, err := getTx(tx, id)
		if errors.Is(err, store.ErrNotFound) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		if counted {
			rec.Video.Views++
			if err := store.PutJSON(tx.Bucket([]byte(bucketVideos)), []byte(id), rec); err != nil {
				return fmt.Errorf("videos: count a view: %w", err)
			}
		}
		views = rec.Video.Views
		return nil
	})
	return views, counted, err
}

type viewRequest struct {
	Session string `json:"session"`
}

type viewAnswer struct {
	Views   int64 `json:"views"`
	Counted bool  `json:"counted"`
}

func (h handlers) view(w http.ResponseWriter, r *http.Request) {
	var req viewRequest
	if err := httpx.DecodeJSON(w, r, 1<<10, &req); err != nil {
		h.fail(w, r, err)
		return
	}
	views, counted, err := h.s.CountView(r.Context(), r.PathValue("id"), req.Session, clientaddr.Addr(r))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, viewAnswer{Views: views, Counted: counted})
}
