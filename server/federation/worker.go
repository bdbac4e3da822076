package federation

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/swarmtube/swarmtube/server/federation/fedproto"
	"github.com/swarmtube/swarmtube/server/federation/outbox"
	bolt "go.etcd.io/bbolt"
)

// deliverLoop runs the delivery worker: it sends each due friend its
// queued events (or a heartbeat), at most MaxParallel friends at once and
// one request per friend at a time, until ctx is done. Network I/O never
// happens inside a transaction.
func (s *Service) deliverLoop(ctx context.Context) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	// A restart is a fresh start: contact every friend now rather than
	// after the backoff the previous run computed. The heartbeat also
	// tells friends that were failing to reach this pod that it is back.
	if err := s.st.View(func(tx *bolt.Tx) error {
		return forEachFriend(tx, func(f *friendRecord) error {
			s.mu.Lock()
			s.wake[f.URL] = true
			s.mu.Unlock()
			return nil
		})
	}); err != nil {
		return fmt.Errorf("federation: list friends: %w", err)
	}
	poll := min(time.Second, s.cfg.RetryMin/2, s.cfg.HealthInterval/2)
	ticker := time.NewTicker(max(poll, 10*time.Millisecond))
	defer ticker.Stop()
	inflight := map[string]bool{}
	done := make(chan string, s.cfg.MaxParallel)
	for {
		due, err := s.dueFriends(inflight)
		if err != nil {
			s.log.Error("federation: find due friends", "err", err)
		}
		for _, f := range due {
			if len(inflight) >= s.cfg.MaxParallel {
				break
			}
			inflight[f] = true
			wg.Go(func() {
				s.contact(ctx, f)
				done <- f
			})
		}
		select {
		case <-ctx.Done():
			return nil
		case f := <-done:
			delete(inflight, f)
		case <-s.out.Wake():
		case <-ticker.C:
		}
	}
}

// dueFriends lists friends to contact now: active ones with events
// queued or no contact for a HealthInterval (the heartbeat), and syncing
// ones (their catalogue is paged), each past its backoff, or woken
// explicitly; never one in flight or with an introduction under way.
// Requested friends wait for the other admin. A record left introducing
// by a crash is paged like a syncing one after 2×HelloTimeout.
func (s *Service) dueFriends(inflight map[string]bool) ([]string, error) {
	now := s.cfg.Now()
	s.mu.Lock()
	woken := s.wake
	s.wake = make(map[string]bool)
	busy := maps.Clone(s.busy)
	s.mu.Unlock()
	var due []string
	err := s.st.View(func(tx *bolt.Tx) error {
		return forEachFriend(tx, func(f *friendRecord) error {
			if inflight[f.URL] || busy[f.URL] {
				return nil
			}
			switch f.State {
			case stateRequested:
				return nil
			case stateIntroducing:
				if now.Sub(f.Since) < 2*s.cfg.HelloTimeout {
					return nil
				}
			}
			if woken[f.URL] {
				due = append(due, f.URL)
				return nil
			}
			if now.Before(f.NextAttempt) {
				return nil
			}
			if f.State != stateActive {
				due = append(due, f.URL)
				return nil
			}
			ob := outbox.QueueTx(tx, f.URL)
			hasEvents := ob != nil && ob.Stats().KeyN > 0
			if hasEvents || now.Sub(f.LastAttempt) >= s.cfg.HealthInterval {
				due = append(due, f.URL)
			}
			return nil
		})
	})
	// Woken friends already in flight are retried once their delivery ends.
	if len(woken) > 0 {
		s.mu.Lock()
		for f := range woken {
			if inflight[f] || busy[f] {
				s.wake[f] = true
			}
		}
		s.mu.Unlock()
	}
	return due, err
}

// contact does what friend needs: paging its catalogue while syncing,
// else one delivery.
func (s *Service) contact(ctx context.Context, friend string) {
	var state string
	_ = s.st.View(func(tx *bolt.Tx) error {
		if f, err := getFriend(tx, friend); err == nil {
			state = f.State
		}
		return nil
	})
	switch state {
	case stateActive:
		s.deliver(ctx, friend)
	case stateSyncing, stateIntroducing:
		if !s.claim(friend) {
			return
		}
		defer s.release(friend)
		if err := s.pullCatalog(ctx, friend); err != nil && ctx.Err() == nil {
			s.failed(friend, err)
		}
	}
}

// pullCatalog pages friend's catalogue into the store, from its cursor
// on, each page in its own transaction and request (RequestTimeout), until
// the last page or MaxFriendVideos videos received; the friend is then
// active. Videos this pod refuses are skipped. It returns nil at once if
// the friend is no longer introducing or syncing.
func (s *Service) pullCatalog(ctx context.Context, friend string) error {
	for {
		var cursor string
		var received int
		var state string
		if err := s.st.View(func(tx *bolt.Tx) error {
			f, err := getFriend(tx, friend)
			if err != nil {
				return err
			}
			cursor, received, state = f.Cursor, f.Received, f.State
			return nil
		}); err != nil {
			return nil // gone
		}
		if state != stateSyncing && state != stateIntroducing {
			return nil
		}
		var page fedproto.CatalogPage
		if received < s.cfg.MaxFriendVideos {
			body, _ := json.Marshal(fedproto.CatalogRequest{Nonce: fedproto.NewNonce(), After: cursor})
			rctx, cancel := context.WithTimeout(ctx, s.cfg.RequestTimeout)
			err := s.post(rctx, friend, fedproto.PathCatalog, body, fedproto.MaxCatalogPage, &page)
			cancel()
			if err == nil {
				err = fedproto.CheckPage(cursor, page)
			}
			if err != nil {
				return fmt.Errorf("page the catalogue: %w", err)
			}
		}
		now := s.cfg.Now()
		done, skipped := false, 0
		err := s.st.Update(func(tx *bolt.Tx) error {
			f, err := getFriend(tx, friend)
			if err != nil || f.Cursor != cursor || f.State != state {
				return nil // changed meanwhile; the next round sees it
			}
			skipped = 0
			for _, v := range page.Videos {
				f.Received++
				if err := s.putVideoTx(tx, f, v); err != nil {
					if !errors.Is(err, fedproto.ErrInvalid) {
						return err
					}
					skipped++
				}
			}
			f.Cursor, f.LastSeen = page.Next, now
			done = page.Next == "" || f.Received >= s.cfg.MaxFriendVideos
			if done {
				f.setState(stateActive, now)
				f.Cursor, f.Failures, f.NextAttempt, f.LastError = "", 0, time.Time{}, ""
			}
			return putFriend(tx, f)
		})
		if err != nil {
			return fmt.Errorf("federation: store the catalogue of %s: %w", friend, err)
		}
		if skipped > 0 {
			s.log.Info("skipped videos of a friend's catalogue", "friend", friend, "skipped", skipped)
		}
		if done {
			s.log.Info("paged a friend's catalogue; now active", "friend", friend)
			s.wakeFriend(friend) // deliver what we hold for it
			return nil
		}
	}
}

// deliver sends one batch of friend's queue (possibly empty: a
// heartbeat) and records the outcome.
func (s *Service) deliver(ctx context.Context, friend string) {
	var body bytes.Buffer
	var lastSent uint64
	n := 0
	err := s.st.View(func(tx *bolt.Tx) error {
		body.WriteString(`{"nonce":"` + fedproto.NewNonce() + `","events":[`)
		if ob := outbox.QueueTx(tx, friend); ob != nil {
			c := ob.Cursor()
			for k, v := c.First(); k != nil && n < s.cfg.BatchSize; k, v = c.Next() {
				if n > 0 {
					body.WriteByte(',')
				}
				body.Write(v) // stored as sent: no re-encoding
				lastSent = bytesToSeq(k)
				n++
			}
		}
		body.WriteString(`]}`)
		return nil
	})
	if err != nil {
		s.log.Error("federation: read outbox", "friend", friend, "err", err)
		return
	}
	rctx, cancel := context.WithTimeout(ctx, s.cfg.RequestTimeout)
	defer cancel()
	start := time.Now()
	var res fedproto.BatchResult
	err = s.post(rctx, friend, fedproto.PathEvents, body.Bytes(), fedproto.MaxSmallBody, &res)
	if ctx.Err() != nil {
		return // shutting down: not the friend's fault
	}
	s.metrics.deliveryTime.Observe(time.Since(start).Seconds())
	if last, ok := replayed(err); ok {
		res, err = fedproto.BatchResult{LastSeq: last, Duplicates: n}, nil
	}
	if err == nil {
		s.delivered(friend, res, n, lastSent)
		return
	}
	s.failed(friend, err)
}

func bytesToSeq(k []byte) uint64 {
	if len(k) != 8 {
		return 0
	}
	var n uint64
	for _, b := range k {
		n = n<<8 | uint64(b)
	}
	return n
}

// delivered forgets what friend has confirmed and raises its score.
func (s *Service) delivered(friend string, res fedproto.BatchResult, sent int, lastSent uint64) {
	now := s.cfg.Now()
	more := false
	// Batch coalesces the outcomes of concurrent deliveries into one
	// commit (one fsync) instead of one each; fn may run twice if the
	// batch fails, and only touches the transaction, so that is safe.
	err := s.st.DB().Batch(func(tx *bolt.Tx) error {
		more = false
		f, err := getFriend(tx, friend)
		if err != nil {
			return nil // quit or ejected meanwhile
		}
		if ob := outbox.QueueTx(tx, friend); ob != nil {
			c := ob.Cursor()
			for k, _ := c.First(); k != nil && bytesToSeq(k) <= res.LastSeq; k, _ = c.First() {
				if err := c.Delete(); err != nil {
					return err
				}
			}
			more = ob.Stats().KeyN > 0 && res.LastSeq >= lastSent
		}
		f.Score = min(ScoreMax, f.Score+s.cfg.Reward)
		f.Failures, f.LastError, f.NextAttempt = 0, "", time.Time{}
		f.LastSeen, f.LastAttempt = now, now
		return putFriend(tx, f)
	})
	if err != nil {
		s.log.Error("federation: record delivery", "friend", friend, "err", err)
		return
	}
	s.metrics.delivered.Add(float64(sent))
	for _, rj := range res.Rejected {
		s.log.Warn("a friend refused one of our events", "friend", friend, "seq", rj.Seq, "reason", rj.Reason)
	}
	if more {
		s.signal() // the next batch is waiting
	}
}

// failed backs off, lowers the friend's score and ejects it below the
// threshold. A 429 only backs off: the friend is healthy, we are fast.
func (s *Service) failed(friend string, cause error) {
	now := s.cfg.Now()
	s.metrics.failures.Inc()
	// Neither a 429 nor a friend still finishing our introduction is the
	// friend's failure: back off without a penalty.
	wait, limited := deferred(cause, s.cfg.RetryMin)
	var ejected *friendRecord
	err := s.st.DB().Batch(func(tx *bolt.Tx) error { // see delivered
		ejected = nil
		f, err := getFriend(tx, friend)
		if err != nil {
			return nil
		}
		f.LastAttempt = now
		f.LastError = cause.Error()
		if limited {
			f.NextAttempt = now.Add(wait)
			return putFriend(tx, f)
		}
		f.Failures++
		f.NextAttempt = now.Add(s.backoff(f.Failures))
		out, err := s.chargeTx(tx, f, s.cfg.Penalty, "unreachable: "+f.LastError)
		if out {
			ejected = f
		}
		return err
	})
	if err != nil {
		s.log.Error("federation: record failed delivery", "friend", friend, "err", err)
		return
	}
	s.log.Info("delivery to a friend failed", "friend", friend, "err", cause)
	if ejected != nil {
		s.afterEject(friend)
	}
}

// backoff is RetryMin·2^(failures-1), at most RetryMax, with ±20 %
// jitter so pods that failed together do not retry together.
func (s *Service) backoff(failures int) time.Duration {
	d := s.cfg.RetryMin
	for i := 1; i < failures && d < s.cfg.RetryMax; i++ {
		d *= 2
	}
	d = min(d, s.cfg.RetryMax)
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
}

// afterEject runs after an ejection has committed: it tells the other
// friends, in the background, so they can check the ejected pod too.
func (s *Service) afterEject(ejected string) {
	s.metrics.ejections.Inc()
	var others []string
	_ = s.st.View(func(tx *bolt.Tx) error {
		return forEachFriend(tx, func(f *friendRecord) error {
			if f.State == stateActive {
				others = append(others, f.URL)
			}
			return nil
		})
	})
	if len(others) == 0 {
		return
	}
	body, _ := json.Marshal(fedproto.Eject{Nonce: fedproto.NewNonce(), Pod: ejected})
	s.background(func(ctx context.Context) { s.broadcast(ctx, others, fedproto.PathEject, body) })
}

// broadcast posts body to path on each pod concurrently, best effort,
// each bounded by RequestTimeout. body must hold a nonce (it is sent to
// each pod once).
func (s *Service) broadcast(ctx context.Context, pods []string, path string, body []byte) {
	var wg sync.WaitGroup
	for _, p := range pods {
		wg.Go(func() {
			rctx, cancel := context.WithTimeout(ctx, s.cfg.RequestTimeout)
			defer cancel()
			if err := s.post(rctx, p, path, body, fedproto.MaxSmallBody, nil); err != nil {
				s.log.Info("could not tell a friend", "friend", p, "path", path, "err", err)
			}
		})
	}
	wg.Wait()
}

// seed makes friends with Config.Seeds, retrying those that fail for a
// reason that may pass (the other pod not up yet) with backoff.
func (s *Service) seed(ctx context.Context) {
	// Seeds already friends (from an earlier run) need no new introduction.
	known, err := s.knownURLs()
	if err != nil {
		s.log.Error("federation: list friends", "err", err)
	}
	var todo []string
	for _, p := range s.cfg.Seeds {
		if n, err := fedproto.NormalizePodURL(p); err != nil || !known[n] {
			todo = append(todo, p)
		}
	}
	for attempt := 1; len(todo) > 0; attempt++ {
		res, err := s.MakeFriends(ctx, todo)
		if ctx.Err() != nil {
			return
		}
		var again []string
		for _, p := range todo {
			reason, failed := res.Errors[p]
			if err != nil && !failed {
				reason, failed = err.Error(), true
			}
			if failed {
				s.log.Warn("could not make friends with a seed pod; will retry", "pod", p, "reason", reason, "attempt", attempt)
				again = append(again, p)
			}
		}
		todo = again
		if len(todo) == 0 {
			return
		}
		t := time.NewTimer(s.backoff(attempt))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}
