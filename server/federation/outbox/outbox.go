// Package outbox is the pod's durable queue of federation events, apart
// from federation so that the packages that write events (server/videos,
// server/mirrors) never hand their transactions to federation itself.
//
// It keeps this pod's event sequence (bucket fed_meta, key "seq", 8 bytes
// big-endian) and one queue per recipient (bucket fed_outbox, a nested
// bucket per friend URL whose keys are event sequences, 8 bytes
// big-endian, and values the event JSON exactly as sent), so a queue is
// read in order with a cursor and dropped whole when its friend goes.
//
// A local change calls EnqueueTx (or EnqueueMirrorTx) inside its own
// write transaction: the sequence is incremented and the event stored
// under it in every open queue, so the change and its events commit
// together or not at all. Which queues are open is federation's to say,
// inside its own transactions (OpenTx, ResetTx, CloseTx): it keeps a
// queue open exactly while a friend is introducing, syncing or active.
// Federation's worker drains the queues (QueueTx) and is woken through
// Wake after every commit that queued something.
package outbox

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
	bolt "go.etcd.io/bbolt"

	"github.com/swarmtube/swarmtube/server/api"
	"github.com/swarmtube/swarmtube/server/federation/fedproto"
	"github.com/swarmtube/swarmtube/server/store"
)

// Buckets.
const (
	bucketQueues = "fed_outbox" // recipient URL → {seq → event JSON}
	bucketMeta   = "fed_meta"   // "seq" → last event sequence of this pod
)

var keySeq = []byte("seq")

// Outbox queues this pod's events. It is made before the catalogue that
// feeds it and the federation service that drains it, so neither needs
// the other set afterwards. It is safe for concurrent use.
type Outbox struct {
	self     string        // this pod's URL, normalized: the events' origin
	wake     chan struct{} // capacity 1
	enqueued prometheus.Counter
}

// New opens the outbox of the pod at selfURL in st, creating its buckets.
func New(st *store.Store, selfURL string) (*Outbox, error) {
	self, err := fedproto.NormalizePodURL(selfURL)
	if err != nil {
		return nil, fmt.Errorf("outbox: self URL: %w", err)
	}
	if err := st.Buckets(bucketQueues, bucketMeta); err != nil {
		return nil, err
	}
	return &Outbox{
		self: self,
		wake: make(chan struct{}, 1),
		enqueued: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "swarmtube_federation_events_enqueued_total", Help: "Events queued for friends (one per friend).",
		}),
	}, nil
}

// Self is the URL of the pod whose events these are (normalized).
func (o *Outbox) Self() string { return o.self }

// Wake receives a value after a commit queued events (coalesced: at most
// one waits), or after Signal.
func (o *Outbox) Wake() <-chan struct{} { return o.wake }

// Signal wakes the reader of Wake without blocking.
func (o *Outbox) Signal() {
	select {
	case o.wake <- struct{}{}:
	default:
	}
}

// Enqueued counts events queued, one per recipient; the owner registers
// it with its metrics.
func (o *Outbox) Enqueued() prometheus.Counter { return o.enqueued }

// EnqueueTx records, inside the caller's write transaction, the change of
// local video v as the next event of this pod and queues it for every
// open queue. kind is fedproto.EventAdd, EventUpdate or EventRemove. Wake
// fires when tx commits; if tx rolls back, neither the change nor the
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
		return fmt.Errorf("outbox: unknown event kind %q", kind)
	}
	return o.enqueueTx(tx, e)
}

// EnqueueMirrorTx records, inside the caller's write transaction, that
// this pod now mirrors (kind fedproto.EventMirror) or no longer mirrors
// (fedproto.EventUnmirror) another pod's video, and queues the event as
// EnqueueTx does (the video's origin, a friend, included).
func (o *Outbox) EnqueueMirrorTx(tx *bolt.Tx, kind string, m fedproto.MirrorRef) error {
	if kind != fedproto.EventMirror && kind != fedproto.EventUnmirror {
		return fmt.Errorf("outbox: unknown mirror event kind %q", kind)
	}
	return o.enqueueTx(tx, fedproto.Event{Origin: o.self, Type: kind, Mirror: &m})
}

func (o *Outbox) enqueueTx(tx *bolt.Tx, e fedproto.Event) error {
	e.Seq = SeqTx(tx) + 1
	if err := tx.Bucket([]byte(bucketMeta)).Put(keySeq, store.Uint64Key(e.Seq)); err != nil {
		return fmt.Errorf("outbox: event sequence: %w", err)
	}
	data, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("outbox: encode event: %w", err)
	}
	// Listed first: a bucket must not change under its own ForEach.
	recipients, err := RecipientsTx(tx)
	if err != nil {
		return fmt.Errorf("outbox: enqueue %s: %w", e.ID(), err)
	}
	for _, u := range recipients {
		if err := QueueTx(tx, u).Put(store.Uint64Key(e.Seq), data); err != nil {
			return fmt.Errorf("outbox: enqueue %s for %s: %w", e.ID(), u, err)
		}
	}
	n := len(recipients)
	tx.OnCommit(func() {
		o.enqueued.Add(float64(n))
		o.Signal()
	})
	return nil
}

// SeqTx is this pod's last event sequence (0 before the first event).
func SeqTx(tx *bolt.Tx) uint64 {
	v := tx.Bucket([]byte(bucketMeta)).Get(keySeq)
	if len(v) != 8 {
		return 0
	}
	return binary.BigEndian.Uint64(v)
}

// OpenTx opens the queue of recipient u, if not open yet: events are
// queued for u from the next on. It returns the queue.
func OpenTx(tx *bolt.Tx, u string) (*bolt.Bucket, error) {
	b, err := tx.Bucket([]byte(bucketQueues)).CreateBucketIfNotExists([]byte(u))
	if err != nil {
		return nil, fmt.Errorf("outbox: queue of %s: %w", u, err)
	}
	return b, nil
}

// QueueTx returns the queue of recipient u, or nil if it is not open.
func QueueTx(tx *bolt.Tx, u string) *bolt.Bucket {
	return tx.Bucket([]byte(bucketQueues)).Bucket([]byte(u))
}

// ResetTx empties the queue of recipient u and leaves it open: a fresh
// catalogue exchange supersedes whatever was queued.
func ResetTx(tx *bolt.Tx, u string) error {
	if err := CloseTx(tx, u); err != nil {
		return err
	}
	_, err := OpenTx(tx, u)
	return err
}

// CloseTx drops the queue of recipient u; no event is queued for u until
// it is opened again. Closing a queue that is not open is no error.
func CloseTx(tx *bolt.Tx, u string) error {
	err := tx.Bucket([]byte(bucketQueues)).DeleteBucket([]byte(u))
	if err != nil && !errors.Is(err, bolt.ErrBucketNotFound) {
		return fmt.Errorf("outbox: drop queue of %s: %w", u, err)
	}
	return nil
}

// PendingTx counts the events queued for u.
func PendingTx(tx *bolt.Tx, u string) int {
	if b := QueueTx(tx, u); b != nil {
		return b.Stats().KeyN
	}
	return 0
}

// RecipientsTx lists the recipients whose queue is open.
func RecipientsTx(tx *bolt.Tx) ([]string, error) {
	var out []string
	err := tx.Bucket([]byte(bucketQueues)).ForEachBucket(func(k []byte) error {
		out = append(out, string(k))
		return nil
	})
	return out, err
}

// TotalTx counts the events queued for all recipients.
func TotalTx(tx *bolt.Tx) int {
	qs := tx.Bucket([]byte(bucketQueues))
	n := 0
	_ = qs.ForEachBucket(func(k []byte) error {
		n += qs.Bucket(k).Stats().KeyN
		return nil
	})
	return n
}
