package federation

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/swarmtube/swarmtube/server/api"
	"github.com/swarmtube/swarmtube/server/federation/fedproto"
	"github.com/swarmtube/swarmtube/server/store"
)

// Buckets. fed_outbox holds one nested bucket per friend URL whose keys
// are event sequences (8 bytes big-endian) and values the event JSON as
// sent, so a friend's queue is read in order with a cursor and dropped
// whole when the friend goes.
const (
	bucketFriends = "fed_friends" // friend URL → friendRecord JSON
	bucketOutbox  = "fed_outbox"  // friend URL → {seq → event JSON}
	bucketMeta    = "fed_meta"    // "seq" → last event sequence of this pod
	bucketEjected = "fed_ejected" // pod URL → ejectedRecord JSON
)

var keySeq = []byte("seq")

// friendRecord is what this pod knows of a friend.
type friendRecord struct {
	URL        string `json:"url"`
	Name       string `json:"name"`
	PublicKey  string `json:"public_key"`
	APIVersion string `json:"api_version"`
	Pending    bool   `json:"pending,omitempty"` // our introduction is under way
	Score      int    `json:"score"`
	// LastSeq is the friend's highest event sequence applied here: events
	// at or below it are duplicates.
	LastSeq     uint64    `json:"last_seq"`
	AddedAt     time.Time `json:"added_at"`
	LastSeen    time.Time `json:"last_seen,omitzero"`    // last successful contact either way
	LastAttempt time.Time `json:"last_attempt,omitzero"` // last outbound delivery attempt
	NextAttempt time.Time `json:"next_attempt,omitzero"` // no delivery before (backoff)
	Failures    int       `json:"failures,omitempty"`    // consecutive failed deliveries
	LastError   string    `json:"last_error,omitempty"`
}

func (f *friendRecord) status() string {
	switch {
	case f.Pending:
		return StatusPending
	case f.Failures > 0:
		return StatusUnreachable
	}
	return StatusActive
}

// ejectedRecord is the tombstone of an ejected friend, for the listing.
type ejectedRecord struct {
	Name     string    `json:"name"`
	Score    int       `json:"score"`
	LastSeen time.Time `json:"last_seen,omitzero"`
	At       time.Time `json:"at"`
	Reason   string    `json:"reason"`
}

var errNoFriend = errors.New("not a friend")

func getFriend(tx *bolt.Tx, u string) (*friendRecord, error) {
	var f friendRecord
	err := store.GetJSON(tx.Bucket([]byte(bucketFriends)), []byte(u), &f)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errNoFriend
	}
	if err != nil {
		return nil, err
	}
	return &f, nil
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
		return fn(&f)
	})
}

// outboxOf returns friend u's queue, creating it when create is set; nil
// if absent.
func outboxOf(tx *bolt.Tx, u string, create bool) (*bolt.Bucket, error) {
	ob := tx.Bucket([]byte(bucketOutbox))
	if !create {
		return ob.Bucket([]byte(u)), nil
	}
	b, err := ob.CreateBucketIfNotExists([]byte(u))
	if err != nil {
		return nil, fmt.Errorf("federation: outbox of %s: %w", u, err)
	}
	return b, nil
}

// resetOutbox empties friend u's queue: a fresh catalogue exchange
// supersedes whatever was queued.
func resetOutbox(tx *bolt.Tx, u string) error {
	if err := deleteOutbox(tx, u); err != nil {
		return err
	}
	_, err := outboxOf(tx, u, true)
	return err
}

func deleteOutbox(tx *bolt.Tx, u string) error {
	err := tx.Bucket([]byte(bucketOutbox)).DeleteBucket([]byte(u))
	if err != nil && !errors.Is(err, bolt.ErrBucketNotFound) {
		return fmt.Errorf("federation: drop outbox of %s: %w", u, err)
	}
	return nil
}

func pendingCount(tx *bolt.Tx, u string) int {
	b, _ := outboxOf(tx, u, false)
	if b == nil {
		return 0
	}
	return b.Stats().KeyN
}

// lastSeq is this pod's last event sequence.
func lastSeq(tx *bolt.Tx) uint64 {
	v := tx.Bucket([]byte(bucketMeta)).Get(keySeq)
	if len(v) != 8 {
		return 0
	}
	return binary.BigEndian.Uint64(v)
}

// removeFriendTx forgets friend u: its record, queue and videos.
func (s *Service) removeFriendTx(tx *bolt.Tx, u string) error {
	if err := s.cat.DropPodTx(tx, u); err != nil {
		return fmt.Errorf("federation: drop videos of %s: %w", u, err)
	}
	if err := deleteOutbox(tx, u); err != nil {
		return err
	}
	return tx.Bucket([]byte(bucketFriends)).Delete([]byte(u))
}

// applySnapshotTx replaces the videos of friend origin with videos, as
// received in an introduction. Videos this pod refuses are skipped and
// counted: one bad record must not cost the friendship.
func (s *Service) applySnapshotTx(tx *bolt.Tx, origin string, videos []api.Video) (skipped int, err error) {
	if err := s.cat.DropPodTx(tx, origin); err != nil {
		return 0, fmt.Errorf("federation: drop videos of %s: %w", origin, err)
	}
	for _, v := range videos {
		if fedproto.CheckVideo(origin, v) != nil {
			skipped++
			continue
		}
		if err := s.cat.PutRemoteTx(tx, origin, v); err != nil {
			if isRefusal(err) {
				skipped++
				continue
			}
			return skipped, fmt.Errorf("federation: store video %s of %s: %w", v.ID, origin, err)
		}
	}
	return skipped, nil
}
