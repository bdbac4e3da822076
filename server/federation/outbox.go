package federation

import (
	"encoding/json"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/swarmtube/swarmtube/server/api"
	"github.com/swarmtube/swarmtube/server/federation/fedproto"
	"github.com/swarmtube/swarmtube/server/store"
)

// Outbox is this pod's durable queue of events for its friends (buckets
// fed_meta and fed_outbox): a local change calls EnqueueTx, or
// EnqueueMirrorTx, inside its own write transaction, so the change and its
// events commit together or not at all; the Service's delivery worker
// sends them. It is made before the catalogue that feeds it and the
// Service that drains it (NewOutbox, then videos.New with it, then New),
// so neither needs the other set afterwards. It is safe for concurrent
// use.
type Outbox struct {
	self     string        // this pod's URL, normalized: the events' origin
	kick     chan struct{} // wakes the delivery worker; capacity 1
	enqueued prometheus.Counter
}

// NewOutbox opens the outbox of the pod at selfURL in st (creating its
// buckets, and the friends' one it reads to address events).
func NewOutbox(st *store.Store, selfURL string) (*Outbox, error) {
	self, err := fedproto.NormalizePodURL(selfURL)
	if err != nil {
		return nil, fmt.Errorf("federation: self URL: %w", err)
	}
	if err := st.Buckets(bucketFriends, bucketOutbox, bucketMeta); err != nil {
		return nil, err
	}
	return &Outbox{
		self: self,
		kick: make(chan struct{}, 1),
		enqueued: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "swarmtube_federation_events_enqueued_total", Help: "Events queued for friends (one per friend).",
		}),
	}, nil
}

// signal wakes the delivery worker without blocking.
func (o *Outbox) signal() {
	select {
	case o.kick <- struct{}{}:
	default:
	}
}

// EnqueueTx records, inside the caller's write transaction, the change of
// local video v as the next event of this pod and queues it for every
// friend (introducing and syncing ones included: they get what follows
// the sequence they were told; requested ones are not friends yet).
// kind is fedproto.EventAdd, EventUpdate or EventRemove. The worker is
// woken when tx commits; if tx rolls back, neither the change nor the
// event exists.
func (o *Outbox) EnqueueTx(tx *bolt.Tx, kind string, v api.Video) error {
	e := fedproto.Event{Origin: o.self, Type: kind}
	switch kind {
	case fedproto.EventAdd, fedproto.EventUpdate:
		v.Pod = o.self
		v.Local = false // receiver-relative; the receiver sets its own
		e.Video = &v
	case fedproto.EventRemove:
		e.VideoID = v.ID
	default:
		return fmt.Errorf("federation: unknown event kind %q", kind)
	}
	return o.enqueueTx(tx, e)
}

// EnqueueMirrorTx records, inside the caller's write transaction, that
// this pod now mirrors (kind fedproto.EventMirror) or no longer mirrors
// (fedproto.EventUnmirror) another pod's video, and queues the event for
// every friend, the video's origin included, as EnqueueTx does.
func (o *Outbox) EnqueueMirrorTx(tx *bolt.Tx, kind string, m fedproto.MirrorRef) error {
	if kind != fedproto.EventMirror && kind != fedproto.EventUnmirror {
		return fmt.Errorf("federation: unknown mirror event kind %q", kind)
	}
	return o.enqueueTx(tx, fedproto.Event{Origin: o.self, Type: kind, Mirror: &m})
}

func (o *Outbox) enqueueTx(tx *bolt.Tx, e fedproto.Event) error {
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
		o.enqueued.Add(float64(n))
		o.signal()
	})
	return nil
}
