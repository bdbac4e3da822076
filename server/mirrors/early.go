package mirrors

import (
	"bytes"
	"encoding/json"
	"errors"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/swarmtube/swarmtube/server/federation/fedproto"
	"github.com/swarmtube/swarmtube/server/store"
)

// Events of different friends are not ordered with each other: pod X's
// "mirror" event for a video of pod O may reach this pod before O's own
// event (or catalogue page) that brings the video. The video's record
// does not exist yet, so there is nothing to list X on, and O's event,
// queued when the video was published, does not name X either; ignored,
// the mirror would stay unknown here for good. An "unmirror" event has
// the same trouble the other way: the origin's list that comes with the
// video may still name the copy X withdrew. So such events are kept
// ("early"), the last of each friend for each video, and applied when the
// video arrives (VideoArrivedTx): X's word on its own copy wins over the
// origin's list.

// bucketEarly holds mirror events for videos not known yet: video key
// here, NUL, mirror pod → earlyMirror JSON.
const bucketEarly = "mirrors_early"

const (
	// maxEarlyPerPod bounds the early events kept from one friend: a
	// friend cannot fill the store with mirrors of videos that never come.
	maxEarlyPerPod = 256
	// earlyTTL is how long an early event waits for its video: beyond
	// the friends' retry backoff (5 min) by far, and a video that has not
	// come by then comes by a catalogue page, which carries the origin's
	// list of mirrors.
	earlyTTL = 24 * time.Hour
)

type earlyMirror struct {
	Pod  string             `json:"pod"`
	Kind string             `json:"kind"` // fedproto.EventMirror or EventUnmirror
	Ref  fedproto.MirrorRef `json:"ref"`
	At   time.Time          `json:"at"`
}

func earlyKey(videoKey, pod string) []byte { return []byte(videoKey + "\x00" + pod) }

// keepEarlyTx keeps pod's mirror or unmirror event for the video key
// here, not known yet, in place of an earlier one.
func (m *Manager) keepEarlyTx(tx *bolt.Tx, key, pod, kind string, ref fedproto.MirrorRef) error {
	b := tx.Bucket([]byte(bucketEarly))
	k := earlyKey(key, pod)
	n := 0
	if err := b.ForEach(func(ek, _ []byte) error {
		if _, p, _ := bytes.Cut(ek, []byte{0}); string(p) == pod && !bytes.Equal(ek, k) {
			n++
		}
		return nil
	}); err != nil {
		return err
	}
	if n >= maxEarlyPerPod {
		m.log.Warn("mirrors: too many mirror events for unknown videos from one friend; ignoring one", "friend", pod, "video", ref.VideoID)
		return nil
	}
	m.log.Info("a friend's mirror event came before the video it names; kept until the video arrives", "friend", pod, "video", key, "type", kind)
	return store.PutJSON(b, k, earlyMirror{Pod: pod, Kind: kind, Ref: ref, At: m.cfg.Now()})
}

// VideoArrivedTx applies, inside the caller's transaction, the mirror
// and unmirror events received for the video id of origin before it was
// known here (see bucketEarly). Federation calls it whenever it stores a
// friend's video that was not known. A kept event the video refuses
// (another info hash) is forgotten.
func (m *Manager) VideoArrivedTx(tx *bolt.Tx, origin, id string) error {
	key, ok := m.cat.VideoKey(origin, id)
	if !ok {
		return nil
	}
	b := tx.Bucket([]byte(bucketEarly))
	prefix := []byte(key + "\x00")
	var found []earlyMirror
	if _, err := store.DeleteWhere(b, prefix, func(_, v []byte) bool {
		var e earlyMirror
		if err := json.Unmarshal(v, &e); err == nil {
			found = append(found, e)
		}
		return true
	}); err != nil {
		return err
	}
	for _, e := range found {
		if _, err := m.cat.SetMirrorTx(tx, e.Pod, e.Ref, e.Kind != fedproto.EventUnmirror); err != nil {
			if !errors.Is(err, fedproto.ErrInvalid) {
				return err
			}
			m.log.Info("mirrors: an early mirror event does not fit its video; forgotten", "video", key, "friend", e.Pod, "err", err)
		}
	}
	return nil
}

// forgetEarlyTx deletes the kept events drop reports true for.
func forgetEarlyTx(tx *bolt.Tx, drop func(e earlyMirror) bool) error {
	_, err := store.DeleteWhere(tx.Bucket([]byte(bucketEarly)), nil, func(_, v []byte) bool {
		var e earlyMirror
		return json.Unmarshal(v, &e) != nil || drop(e)
	})
	return err
}

// pruneEarly forgets kept events older than earlyTTL.
func (m *Manager) pruneEarly() {
	cut := m.cfg.Now().Add(-earlyTTL)
	if err := m.st.Update(func(tx *bolt.Tx) error {
		return forgetEarlyTx(tx, func(e earlyMirror) bool { return e.At.Before(cut) })
	}); err != nil {
		m.log.Warn("mirrors: prune early mirror events", "err", err)
	}
}
