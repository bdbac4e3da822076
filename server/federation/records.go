package federation

import (
	"errors"
	"fmt"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/swarmtube/swarmtube/server/api"
	"github.com/swarmtube/swarmtube/server/federation/fedproto"
	"github.com/swarmtube/swarmtube/server/federation/outbox"
	"github.com/swarmtube/swarmtube/server/store"
)

// Buckets. The event sequence and the friends' queues (fed_meta,
// fed_outbox) are server/federation/outbox's.
const (
	bucketFriends  = "fed_friends"  // friend URL → friendRecord JSON
	bucketEjected  = "fed_ejected"  // pod URL → ejectedRecord JSON
	bucketRequests = "fed_requests" // pod URL → requestRecord JSON (introductions waiting for the admin)
)

// Friend states (friendRecord.State); the package documentation draws
// the transitions.
const (
	stateRequested   = "requested"   // we asked; the other pod's admin has not consented yet
	stateIntroducing = "introducing" // our Hello is under way
	stateSyncing     = "syncing"     // both consented; we page its catalogue
	stateActive      = "active"      // friends: events flow both ways
)

// friendRecord is what this pod knows of a friend.
type friendRecord struct {
	URL        string `json:"url"`
	Name       string `json:"name"`
	PublicKey  string `json:"public_key"`
	APIVersion string `json:"api_version"`
	State      string `json:"state"`
	// Pending is the introducing flag of records written before State
	// existed; read only.
	Pending bool      `json:"pending,omitempty"`
	Since   time.Time `json:"since,omitzero"` // when State was entered
	Score   int       `json:"score"`
	// LastSeq is the friend's highest event sequence applied here: events
	// at or below it are duplicates.
	LastSeq uint64 `json:"last_seq"`
	// Cursor is the last video id of the friend's catalogue paged so far
	// (syncing); Received counts the videos received while paging.
	Cursor   string `json:"cursor,omitempty"`
	Received int    `json:"received,omitempty"`
	// Videos counts the friend's videos stored here (Config.MaxFriendVideos).
	Videos      int       `json:"videos,omitempty"`
	AddedAt     time.Time `json:"added_at"`
	LastSeen    time.Time `json:"last_seen,omitzero"`    // last successful contact either way
	LastAttempt time.Time `json:"last_attempt,omitzero"` // last outbound delivery attempt
	NextAttempt time.Time `json:"next_attempt,omitzero"` // no delivery before (backoff)
	Failures    int       `json:"failures,omitempty"`    // consecutive failed deliveries
	LastError   string    `json:"last_error,omitempty"`
}

func (f *friendRecord) status() string {
	switch {
	case f.State == stateRequested:
		return StatusRequested
	case f.State == stateIntroducing || f.State == stateSyncing:
		return StatusSyncing
	case f.Failures > 0:
		return StatusUnreachable
	}
	return StatusActive
}

// setState moves f to state at now.
func (f *friendRecord) setState(state string, now time.Time) {
	f.State, f.Since = state, now
}

// requestRecord is an introduction waiting for this pod's admin, or one
// the admin refused.
type requestRecord struct {
	Name       string    `json:"name"`
	PublicKey  string    `json:"public_key"`
	APIVersion string    `json:"api_version"`
	At         time.Time `json:"at"`
	Refused    bool      `json:"refused,omitempty"`
}

// ejectedRecord is the tombstone of an ejected friend, for the listing.
type ejectedRecord struct {
	Name     string    `json:"name"`
	Score    int       `json:"score"`
	LastSeen time.Time `json:"last_seen,omitzero"`
	At       time.Time `json:"at"`
	Reason   string    `json:"reason"`
}

func getFriend(tx *bolt.Tx, u string) (*friendRecord, error) {
	var f friendRecord
	err := store.GetJSON(tx.Bucket([]byte(bucketFriends)), []byte(u), &f)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errNoFriend
	}
	if err != nil {
		return nil, err
	}
	f.upgrade()
	return &f, nil
}

// upgrade fills State in records written before it existed.
func (f *friendRecord) upgrade() {
	if f.State != "" {
		return
	}
	f.State = stateActive
	if f.Pending {
		f.State = stateIntroducing
	}
	f.Pending = false
}

func getRequest(tx *bolt.Tx, u string) (*requestRecord, error) {
	var r requestRecord
	if err := store.GetJSON(tx.Bucket([]byte(bucketRequests)), []byte(u), &r); err != nil {
		return nil, err
	}
	return &r, nil
}

func putRequest(tx *bolt.Tx, u string, r *requestRecord) error {
	return store.PutJSON(tx.Bucket([]byte(bucketRequests)), []byte(u), r)
}

func deleteRequest(tx *bolt.Tx, u string) error {
	return tx.Bucket([]byte(bucketRequests)).Delete([]byte(u))
}

// countRequests counts the requests waiting for the admin and returns the
// refused ones, oldest first.
func countRequests(tx *bolt.Tx) (waiting int, refused []string, err error) {
	b := tx.Bucket([]byte(bucketRequests))
	type at struct {
		url string
		t   time.Time
	}
	var rs []at
	err = b.ForEach(func(k, _ []byte) error {
		var r requestRecord
		if err := store.GetJSON(b, k, &r); err != nil {
			return err
		}
		if r.Refused {
			rs = append(rs, at{string(k), r.At})
		} else {
			waiting++
		}
		return nil
	})
	slices.SortFunc(rs, func(a, b at) int { return a.t.Compare(b.t) })
	for _, r := range rs {
		refused = append(refused, r.url)
	}
	return waiting, refused, err
}

// countFriends counts friend records in any state.
func countFriends(tx *bolt.Tx) int {
	return tx.Bucket([]byte(bucketFriends)).Stats().KeyN
}

func putFriend(tx *bolt.Tx, f *friendRecord) error {
	return store.PutJSON(tx.Bucket([]byte(bucketFriends)), []byte(f.URL), f)
}

func forEachFriend(tx *bolt.Tx, fn func(f *friendRecord) error) error {
	b := tx.Bucket([]byte(bucketFriends))
	return b.ForEach(func(k, _ []byte) error {
		var f friendRecord
		if err := store.GetJSON(b, k, &f); err != nil {
			return err
		}
		f.upgrade()
		return fn(&f)
	})
}

// openQueues makes the outbox's open queues the friends that receive
// events: introducing, syncing and active ones (a requested friend has
// not consented yet; it gets a fresh catalogue if it comes). Queues are
// opened and closed with the state changes (introduce, befriendTx,
// undoIntroducing, removeFriendTx); this puts right stores whose queues
// were made lazily, at a friend's first event, and drops queues no friend
// owns.
func openQueues(tx *bolt.Tx) error {
	friends := map[string]bool{}
	if err := forEachFriend(tx, func(f *friendRecord) error {
		friends[f.URL] = f.State != stateRequested
		return nil
	}); err != nil {
		return err
	}
	open, err := outbox.RecipientsTx(tx)
	if err != nil {
		return err
	}
	for _, u := range open {
		if !friends[u] {
			if err := outbox.CloseTx(tx, u); err != nil {
				return err
			}
		}
	}
	for u, receives := range friends {
		if receives {
			if _, err := outbox.OpenTx(tx, u); err != nil {
				return err
			}
		}
	}
	return nil
}

// removeFriendTx forgets friend u: its record, queue and videos.
func (s *Service) removeFriendTx(tx *bolt.Tx, u string) error {
	if s.mirrors != nil {
		if err := s.mirrors.PodGoneTx(tx, u); err != nil {
			return fmt.Errorf("federation: drop mirrors of %s: %w", u, err)
		}
	}
	if err := s.cat.DropPodTx(tx, u); err != nil {
		return fmt.Errorf("federation: drop videos of %s: %w", u, err)
	}
	if err := outbox.CloseTx(tx, u); err != nil {
		return err
	}
	return tx.Bucket([]byte(bucketFriends)).Delete([]byte(u))
}

// putVideoTx stores video v of friend f (checked, counted against
// MaxFriendVideos). A video this pod refuses is an error wrapping
// fedproto.ErrInvalid; a store failure is any other.
func (s *Service) putVideoTx(tx *bolt.Tx, f *friendRecord, v api.Video) error {
	if err := fedproto.CheckVideo(f.URL, v); err != nil {
		return err
	}
	known := s.cat.HasRemoteTx(tx, f.URL, v.ID)
	if !known && f.Videos >= s.cfg.MaxFriendVideos {
		return fmt.Errorf("%w: this pod keeps at most %d videos per friend", fedproto.ErrInvalid, s.cfg.MaxFriendVideos)
	}
	v.Pod = f.URL
	if err := s.cat.PutRemoteTx(tx, f.URL, v); err != nil {
		return err
	}
	if !known {
		f.Videos++
		if s.mirrors != nil {
			if err := s.mirrors.VideoArrivedTx(tx, f.URL, v.ID); err != nil {
				return err
			}
		}
	}
	return nil
}

// removeVideoTx removes video id of friend f.
func (s *Service) removeVideoTx(tx *bolt.Tx, f *friendRecord, id string) error {
	known := s.cat.HasRemoteTx(tx, f.URL, id)
	if err := s.cat.RemoveRemoteTx(tx, f.URL, id); err != nil {
		return err
	}
	if s.mirrors != nil {
		if err := s.mirrors.OriginRemovedTx(tx, f.URL, id); err != nil {
			return err
		}
	}
	if known && f.Videos > 0 {
		f.Videos--
	}
	return nil
}
