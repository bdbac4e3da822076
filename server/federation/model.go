package federation

// The model of federation: what a verified, decoded message from a pod
// does to this pod's friends, queues and catalogue. The protocol layer
// (protocol.go) calls it with an authenticated sender; it knows no HTTP,
// and refuses with the domain errors of errors.go (errNoFriend,
// errRefused, errFriendLimit, errRequestsFull, and fedproto.ErrInvalid
// for a message it will not apply), which the protocol layer answers.
// Every change is one bbolt transaction; the friend lifecycle it moves
// through is drawn in doc.go.

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/swarmtube/swarmtube/server/api"
	"github.com/swarmtube/swarmtube/server/federation/fedproto"
	"github.com/swarmtube/swarmtube/server/federation/outbox"
	"github.com/swarmtube/swarmtube/server/store"
)

// friend returns the record of the friend at url (any state), or
// errNoFriend.
func (s *Service) friend(url string) (*friendRecord, error) {
	var f *friendRecord
	err := s.st.View(func(tx *bolt.Tx) error {
		var err error
		f, err = getFriend(tx, url)
		return err
	})
	return f, err
}

// receiveEvents applies a batch of events from friend f (applyBatch). A
// friend this pod was backing off from has just shown it is up again: it
// is woken, so what this pod holds for it is delivered now.
func (s *Service) receiveEvents(f *friendRecord, events []fedproto.Event) (fedproto.BatchResult, error) {
	res, err := s.applyBatch(f.URL, events)
	if err != nil {
		return res, err
	}
	if f.Failures > 0 || !f.NextAttempt.IsZero() && f.NextAttempt.After(s.cfg.Now()) {
		s.wakeFriend(f.URL)
	}
	return res, nil
}

// consentOf says what this pod already knows of a pod introducing itself
// with key: consent if this pod asked it or it is a friend introducing
// itself again, known if the key is the one held for it (a request or a
// friend), so it needs no confirming. A pod whose introduction the admin
// refused is errRefused.
func (s *Service) consentOf(origin, key string) (consent, known bool, err error) {
	err = s.st.View(func(tx *bolt.Tx) error {
		if rq, err := getRequest(tx, origin); err == nil {
			if rq.Refused {
				return errRefused
			}
			known = sameKey(rq.PublicKey, key)
		}
		if f, err := getFriend(tx, origin); err == nil {
			consent = true
			known = sameKey(f.PublicKey, key)
		}
		return nil
	})
	return consent, known, err
}

func sameKey(a, b string) bool { return strings.TrimSpace(a) == strings.TrimSpace(b) }

// admit takes a verified introduction h from origin (consent as
// consentOf found it): the policy may consent too (AcceptOpen, or
// AcceptAllowlist and origin listed); without consent it is kept as a
// request for the admin (storeRequest), with it origin becomes a friend
// (befriendTx) whose catalogue is paged at once.
func (s *Service) admit(origin string, h fedproto.Hello, version string, consent bool, now time.Time) (fedproto.HelloResult, error) {
	consent = consent || s.cfg.Accept == AcceptOpen || s.cfg.Accept == AcceptAllowlist && s.allowlisted(origin)
	if !consent {
		return s.storeRequest(origin, h.Pod, version, now)
	}
	res, err := s.befriendTx(origin, h.Pod, version, h.Seq, now)
	if err != nil {
		return res, err
	}
	s.wakeFriend(origin) // page its catalogue now
	return res, nil
}

// quit forgets friend url, which said it quits: its record, queue,
// videos and mirrors.
func (s *Service) quit(url string) error {
	return s.st.Update(func(tx *bolt.Tx) error { return s.removeFriendTx(tx, url) })
}

// applyBatch applies a friend's events in one transaction. Events at or
// below the friend's LastSeq are duplicates; invalid ones are skipped,
// reported and cost the friend score; a store failure aborts all.
func (s *Service) applyBatch(origin string, events []fedproto.Event) (fedproto.BatchResult, error) {
	var res fedproto.BatchResult
	var ejected *friendRecord
	err := s.st.Update(func(tx *bolt.Tx) error {
		res = fedproto.BatchResult{}
		ejected = nil
		f, err := getFriend(tx, origin)
		if err != nil {
			return errNoFriend // quit or ejected meanwhile
		}
		var prev uint64
		for _, e := range events {
			if e.Seq <= prev {
				return fmt.Errorf("%w: event sequences must increase within a batch (%d after %d)", fedproto.ErrInvalid, e.Seq, prev)
			}
			prev = e.Seq
			if e.Seq <= f.LastSeq {
				res.Duplicates++
				continue
			}
			if err := s.applyEventTx(tx, f, e); err != nil {
				if !errors.Is(err, fedproto.ErrInvalid) {
					return fmt.Errorf("federation: apply %s: %w", e.ID(), err)
				}
				res.Rejected = append(res.Rejected, fedproto.Rejection{Seq: e.Seq, Reason: err.Error()})
			} else {
				res.Applied++
			}
			f.LastSeq = e.Seq
		}
		res.LastSeq = f.LastSeq
		f.LastSeen = s.cfg.Now()
		if len(res.Rejected) > 0 {
			out, err := s.chargeTx(tx, f, s.cfg.Penalty, "sent invalid events")
			if out {
				ejected = f
			}
			return err
		}
		return putFriend(tx, f)
	})
	if err != nil {
		return res, err
	}
	if ejected != nil {
		s.afterEject(ejected.URL)
	}
	return res, nil
}

func (s *Service) applyEventTx(tx *bolt.Tx, f *friendRecord, e fedproto.Event) error {
	if err := fedproto.CheckEvent(f.URL, e); err != nil {
		return err
	}
	switch e.Type {
	case fedproto.EventRemove:
		return s.removeVideoTx(tx, f, e.VideoID)
	case fedproto.EventMirror, fedproto.EventUnmirror:
		if s.mirrors == nil {
			return fmt.Errorf("%w: this pod does not take mirror events", fedproto.ErrInvalid)
		}
		return s.mirrors.MirrorTx(tx, f.URL, e.Type, *e.Mirror)
	}
	return s.putVideoTx(tx, f, *e.Video)
}

// storeRequest keeps an introduction for the admin: at most MaxRequests
// wait at once (refused ones do not count; Refuse bounds those).
func (s *Service) storeRequest(origin string, ref fedproto.PodRef, version string, now time.Time) (fedproto.HelloResult, error) {
	err := s.st.Update(func(tx *bolt.Tx) error {
		if _, err := getRequest(tx, origin); err != nil {
			waiting, _, err := countRequests(tx)
			if err != nil {
				return err
			}
			if waiting >= s.cfg.MaxRequests {
				return errRequestsFull
			}
		}
		return putRequest(tx, origin, &requestRecord{Name: ref.Name, PublicKey: ref.PublicKey, APIVersion: version, At: now})
	})
	if err != nil {
		return fedproto.HelloResult{}, err
	}
	return fedproto.HelloResult{Status: fedproto.HelloRequested, Pod: s.Self()}, nil
}

// befriendTx makes origin a friend that both sides consented to: in one
// transaction its record enters syncing (the worker pages its catalogue;
// videos it had here are dropped first), events for it are queued from
// this pod's current sequence on, and its request and tombstone go. It
// returns the accepting answer, with this pod's sequence and other
// friends.
func (s *Service) befriendTx(origin string, ref fedproto.PodRef, version string, theirSeq uint64, now time.Time) (fedproto.HelloResult, error) {
	var res fedproto.HelloResult
	err := s.st.Update(func(tx *bolt.Tx) error {
		f, err := getFriend(tx, origin)
		switch {
		case errors.Is(err, errNoFriend):
			if countFriends(tx) >= s.cfg.MaxFriends {
				return errFriendLimit
			}
			f = &friendRecord{URL: origin, Score: ScoreInitial, AddedAt: now}
		case err != nil:
			return err
		}
		f.Name, f.PublicKey, f.APIVersion = ref.Name, ref.PublicKey, version
		f.setState(stateSyncing, now)
		f.LastSeq, f.LastSeen, f.Cursor, f.Received, f.Videos = theirSeq, now, "", 0, 0
		f.Failures, f.NextAttempt, f.LastError = 0, time.Time{}, ""
		if err := deleteRequest(tx, origin); err != nil {
			return err
		}
		if err := tx.Bucket([]byte(bucketEjected)).Delete([]byte(origin)); err != nil {
			return err
		}
		if err := outbox.ResetTx(tx, origin); err != nil {
			return err
		}
		if err := s.cat.DropPodTx(tx, origin); err != nil {
			return fmt.Errorf("federation: drop videos of %s: %w", origin, err)
		}
		res = fedproto.HelloResult{Status: fedproto.HelloAccepted, Pod: s.Self(), Seq: outbox.SeqTx(tx)}
		if err := forEachFriend(tx, func(o *friendRecord) error {
			if o.URL != origin && o.State == stateActive && len(res.Friends) < fedproto.MaxHelloFriends {
				res.Friends = append(res.Friends, o.URL)
			}
			return nil
		}); err != nil {
			return err
		}
		return putFriend(tx, f)
	})
	return res, err
}

// catalogPage returns this pod's videos after id after: at most
// MaxCatalogVideos and, encoded, at most half of MaxCatalogPage.
func (s *Service) catalogPage(after string) (fedproto.CatalogPage, error) {
	page := fedproto.CatalogPage{Videos: []api.Video{}}
	vids, err := s.cat.LocalVideosAfter(after, fedproto.MaxCatalogVideos)
	if err != nil {
		return page, fmt.Errorf("federation: list local videos: %w", err)
	}
	size := 0
	for i, v := range vids {
		v.Pod, v.Local = s.cfg.SelfURL, false
		b, err := json.Marshal(v)
		if err != nil {
			return page, fmt.Errorf("federation: encode video %s: %w", v.ID, err)
		}
		if size += len(b) + 1; size > fedproto.MaxCatalogPage/2 && i > 0 {
			page.Next = page.Videos[len(page.Videos)-1].ID
			return page, nil
		}
		page.Videos = append(page.Videos, v)
	}
	if len(vids) == fedproto.MaxCatalogVideos {
		page.Next = vids[len(vids)-1].ID
	}
	return page, nil
}

// reported handles a friend's report that it ejected target: a report
// costs target ReportPenalty (once per reporter and hour) and makes the
// worker check target at once, so a healthy pod earns it back.
func (s *Service) reported(reporter, target string) error {
	now := s.cfg.Now()
	s.mu.Lock()
	for k, t := range s.reports {
		if now.Sub(t) > time.Hour {
			delete(s.reports, k)
		}
	}
	key := [2]string{reporter, target}
	_, dup := s.reports[key]
	if !dup {
		s.reports[key] = now
	}
	s.mu.Unlock()
	if dup {
		return nil
	}
	ejected, err := s.charge(target, s.cfg.ReportPenalty, "reported by "+reporter)
	if err != nil {
		return err
	}
	if !ejected {
		s.wakeFriend(target)
	}
	return nil
}

// penalize lowers a friend's score for a bad request, ejecting it below
// the threshold.
func (s *Service) penalize(friend, reason string) {
	if _, err := s.charge(friend, s.cfg.Penalty, reason); err != nil {
		s.log.Error("federation: lower score", "friend", friend, "err", err)
	}
}

// charge takes points from friend's score in a transaction of its own
// (chargeTx) and, if that ejected it, runs afterEject once committed. A
// pod that is no friend (gone meanwhile) costs nothing.
func (s *Service) charge(friend string, points int, reason string) (ejected bool, err error) {
	err = s.st.Update(func(tx *bolt.Tx) error {
		ejected = false
		f, err := getFriend(tx, friend)
		if errors.Is(err, errNoFriend) {
			return nil
		}
		if err != nil {
			return err
		}
		ejected, err = s.chargeTx(tx, f, points, reason)
		return err
	})
	if err != nil {
		return false, err
	}
	if ejected {
		s.afterEject(friend)
	}
	return ejected, nil
}

// chargeTx is the one place a friend loses score: inside tx it takes
// points from f and stores it, or, below ScoreMin, ejects it for reason
// (ejectTx). It reports whether f was ejected; the caller then runs
// afterEject once tx has committed. charge wraps it for a change that is
// only a charge; applyBatch and failed call it inside their own
// transaction, with the rest of what they record.
func (s *Service) chargeTx(tx *bolt.Tx, f *friendRecord, points int, reason string) (ejected bool, err error) {
	f.Score -= points
	if f.Score < s.cfg.ScoreMin {
		return true, s.ejectTx(tx, f, reason)
	}
	return false, putFriend(tx, f)
}

// ejectTx removes friend f, leaving a tombstone for the listing.
func (s *Service) ejectTx(tx *bolt.Tx, f *friendRecord, reason string) error {
	if err := s.removeFriendTx(tx, f.URL); err != nil {
		return err
	}
	s.log.Warn("ejecting a friend", "friend", f.URL, "score", f.Score, "min", s.cfg.ScoreMin, "reason", reason)
	return store.PutJSON(tx.Bucket([]byte(bucketEjected)), []byte(f.URL),
		ejectedRecord{Name: f.Name, Score: f.Score, LastSeen: f.LastSeen, At: s.cfg.Now(), Reason: reason})
}
