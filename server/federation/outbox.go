package federation

import (
	"encoding/json"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/swarmtube/swarmtube/server/api"
	"github.com/swarmtube/swarmtube/server/federation/fedproto"
	"github.com/swarmtube/swarmtube/server/store"
)

// EnqueueTx records, inside the caller's write transaction, the change of
// local video v as the next event of this pod and queues it for every
// friend (introducing and syncing ones included: they get what follows
// the sequence they were told; requested ones are not friends yet).
// kind is "add", "update" or "remove". The worker is woken when tx
// commits; if tx rolls back, neither the change nor the event exists.
func (s *Service) EnqueueTx(tx *bolt.Tx, kind string, v api.Video) error {
	e := fedproto.Event{Origin: s.cfg.SelfURL, Type: kind}
	switch kind {
	case fedproto.EventAdd, fedproto.EventUpdate:
		v.Pod = s.cfg.SelfURL
		v.Local = false // receiver-relative; the receiver sets its own
		e.Video = &v
	case fedproto.EventRemove:
		e.VideoID = v.ID
	default:
		return fmt.Errorf("federation: unknown event kind %q", kind)
	}
	return s.enqueueTx(tx, e)
}

// EnqueueMirrorTx records, inside the caller's write transaction, that
// this pod now mirrors (kind fedproto.EventMirror) or no longer mirrors
// (fedproto.EventUnmirror) another pod's video, and queues the event for
// every friend, the video's origin included, as EnqueueTx does.
func (s *Service) EnqueueMirrorTx(tx *bolt.Tx, kind string, m fedproto.MirrorRef) error {
	if kind != fedproto.EventMirror && kind != fedproto.EventUnmirror {
		return fmt.Errorf("federation: unknown mirror event kind %q", kind)
	}
	return s.enqueueTx(tx, fedproto.Event{Origin: s.cfg.SelfURL, Type: kind, Mirror: &m})
}

func (s *Service) enqueueTx(tx *bolt.Tx, e fedproto.Event) error {
	e.Seq = lastSeq(tx) + 1
	if err := tx.Bucket([]byte(bucketMeta)).Put(keySeq, store.Uint64Key(e.Seq)); err != nil {
		return fmt.Errorf("federation: event sequence: %w", err)
	}
	data, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("federation: encode event: %w", err)
	}
	n := 0
	if err := forEachFriend(tx, func(f *friendRecord) error {
		if f.State == stateRequested {
			return nil // no consent yet: it gets a fresh catalogue if it comes
		}
		b, err := outboxOf(tx, f.URL, true)
		if err != nil {
			return err
		}
		n++
		return b.Put(store.Uint64Key(e.Seq), data)
	}); err != nil {
		return fmt.Errorf("federation: enqueue %s: %w", e.ID(), err)
	}
	tx.OnCommit(func() {
		s.metrics.enqueued.Add(float64(n))
		s.signal()
	})
	return nil
}
