package federation

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/swarmtube/swarmtube/server/api"
	"github.com/swarmtube/swarmtube/server/federation/fedproto"
	"github.com/swarmtube/swarmtube/server/federation/outbox"
	"github.com/swarmtube/swarmtube/server/httpx"
)

// MakeFriends introduces this pod to each of pods and then to friends
// they name (at most MaxIntroductions from each), exchanging catalogues
// with every one that consents. An admin naming a pod is this pod's
// consent; the other pod answers by its own policy: it accepts at once
// (both become friends and page each other's catalogue) or keeps the
// introduction until its admin accepts it (listed in Requested). Named
// pods are introduced concurrently, each within HelloTimeout; learnt
// ones concurrently, each within IntroTimeout. No lock is held over the
// network. The result lists all friends afterwards and, per pod URL as
// given (or as learnt), why it failed. The error wraps ErrInvalidPods
// when no usable pod is named, ErrNoneSucceeded when no named pod could be
// befriended or asked.
func (s *Service) MakeFriends(ctx context.Context, pods []string) (api.MakeFriendsResult, error) {
	res := api.MakeFriendsResult{Errors: map[string]string{}}
	if len(pods) == 0 || len(pods) > 100 {
		return res, errPodCount
	}
	var named []string
	given := map[string]string{}
	seen := map[string]bool{s.cfg.SelfURL: true}
	for _, p := range pods {
		n, err := fedproto.NormalizePodURL(p)
		switch {
		case err != nil:
			res.Errors[p] = httpx.UserText(err)
		case n == s.cfg.SelfURL:
			res.Errors[p] = "that is this pod"
		case !seen[n]:
			seen[n] = true
			given[n] = p
			named = append(named, n)
		}
	}
	if len(named) == 0 {
		return res, fmt.Errorf("%w: no pod to befriend: %s", ErrInvalidPods, joinErrors(res.Errors))
	}
	known, err := s.knownURLs()
	if err != nil {
		return res, err
	}
	var mu sync.Mutex // guards res, seen, learnt and namedOK
	var learnt []string
	namedOK := 0
	s.introduceAll(ctx, named, s.cfg.HelloTimeout, func(target string, hr fedproto.HelloResult, canonical string, err error) {
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			s.log.Info("makefriends: introduction failed", "pod", target, "err", err)
			res.Errors[given[target]] = httpx.UserText(err) // no dial errors or addresses for the client
			return
		}
		namedOK++
		seen[canonical] = true
		if hr.Status == fedproto.HelloRequested {
			res.Requested = append(res.Requested, canonical)
			return
		}
		taken := 0
		for _, f := range hr.Friends {
			if taken >= s.cfg.MaxIntroductions {
				break
			}
			n, err := fedproto.NormalizePodURL(f)
			if err != nil || seen[n] || known[n] {
				continue
			}
			seen[n] = true
			learnt = append(learnt, n)
			taken++
		}
	})
	s.introduceAll(ctx, learnt, s.cfg.IntroTimeout, func(target string, hr fedproto.HelloResult, canonical string, err error) {
		mu.Lock()
		defer mu.Unlock()
		switch {
		case err != nil:
			s.log.Info("makefriends: introduction failed", "pod", target, "err", err)
			res.Errors[target] = httpx.UserText(err)
		case hr.Status == fedproto.HelloRequested:
			res.Requested = append(res.Requested, canonical)
		}
	})
	slices.Sort(res.Requested)
	if res.Friends, err = s.Friends(); err != nil {
		return res, err
	}
	if namedOK == 0 {
		return res, fmt.Errorf("%w: no friendship was set up: %s", ErrNoneSucceeded, joinErrors(res.Errors))
	}
	return res, nil
}

// introduceAll introduces this pod to every one of targets at once, each
// within timeout, and calls done for each as it ends.
func (s *Service) introduceAll(ctx context.Context, targets []string, timeout time.Duration, done func(target string, hr fedproto.HelloResult, canonical string, err error)) {
	var wg sync.WaitGroup
	for _, t := range targets {
		wg.Go(func() {
			ictx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			hr, canonical, err := s.introduce(ictx, t)
			s.metrics.introductions.WithLabelValues(introResult(hr, err)).Inc()
			done(t, hr, canonical, err)
		})
	}
	wg.Wait()
}

func introResult(hr fedproto.HelloResult, err error) string {
	if err != nil {
		return "failed"
	}
	return hr.Status
}

// errPodCount refuses a list of pods too short or too long.
var errPodCount = fmt.Errorf("%w: name 1 to 100 pod URLs in \"pods\"", ErrInvalidPods)

func joinErrors(m map[string]string) string {
	var parts []string
	for p, e := range m {
		parts = append(parts, p+": "+e)
	}
	slices.Sort(parts)
	return strings.Join(parts, "; ")
}

// knownURLs is the set of pods with a friend record in any state.
func (s *Service) knownURLs() (map[string]bool, error) {
	out := map[string]bool{}
	err := s.st.View(func(tx *bolt.Tx) error {
		return forEachFriend(tx, func(f *friendRecord) error {
			out[f.URL] = true
			return nil
		})
	})
	return out, err
}

// activeURLs lists active friends.
func (s *Service) activeURLs() ([]string, error) {
	var out []string
	err := s.st.View(func(tx *bolt.Tx) error {
		return forEachFriend(tx, func(f *friendRecord) error {
			if f.State == stateActive {
				out = append(out, f.URL)
			}
			return nil
		})
	})
	return out, err
}

// introduce asks the pod at target for friendship, this pod consenting:
// it reads the pod's info (common API version, key, canonical URL),
// records it as introducing in the same transaction that starts queuing
// events for it, and posts the Hello. If the pod accepts, both are
// friends: this pod pages its catalogue at once (the worker finishes the
// paging if ctx ends first). If the pod keeps the Hello as a request, the
// record waits as requested. It returns the pod's answer and canonical
// URL.
func (s *Service) introduce(ctx context.Context, target string) (fedproto.HelloResult, string, error) {
	var hr fedproto.HelloResult
	info, err := s.fetchPodInfo(ctx, target)
	if err != nil {
		return hr, "", fmt.Errorf("cannot read its pod info: %s", fetchReason(err))
	}
	ref := fedproto.PodRef{URL: info.URL, Name: info.Name, APIVersions: info.APIVersions, PublicKey: info.PublicKey}
	if err := fedproto.CheckPodRef(ref); err != nil {
		return hr, "", fmt.Errorf("its pod info is invalid: %w", err)
	}
	canonical, _ := fedproto.NormalizePodURL(info.URL)
	if canonical == s.cfg.SelfURL {
		return hr, "", errors.New("that is this pod")
	}
	version := fedproto.CommonVersion(s.Self().APIVersions, info.APIVersions)
	if version == "" {
		return hr, "", fmt.Errorf("no common API version: %s speaks %v, this pod speaks %v",
			canonical, info.APIVersions, s.Self().APIVersions)
	}
	if _, err := s.publicKey(info.PublicKey); err != nil {
		return hr, "", fmt.Errorf("its public key is unusable: %w", err)
	}
	if !s.claim(canonical) {
		return hr, "", errors.New("an introduction to it is already under way")
	}
	defer s.release(canonical)

	var hello fedproto.Hello
	var prev *friendRecord
	now := s.cfg.Now()
	if err := s.st.Update(func(tx *bolt.Tx) error {
		f, err := getFriend(tx, canonical)
		switch {
		case err == nil:
			old := *f
			prev = &old
		case errors.Is(err, errNoFriend):
			prev = nil
			if countFriends(tx) >= s.cfg.MaxFriends {
				return fmt.Errorf("this pod already has %d friends (--federation-max-friends)", s.cfg.MaxFriends)
			}
			f = &friendRecord{URL: canonical, Score: ScoreInitial, AddedAt: now}
		default:
			return err
		}
		f.setState(stateIntroducing, now)
		f.Name, f.PublicKey, f.APIVersion = info.Name, info.PublicKey, version
		if _, err := outbox.OpenTx(tx, canonical); err != nil {
			return err
		}
		// The admin asked: a request from it, or an earlier refusal, is
		// answered by this introduction.
		if err := deleteRequest(tx, canonical); err != nil {
			return err
		}
		hello = fedproto.Hello{Nonce: fedproto.NewNonce(), Pod: s.Self(), Seq: outbox.SeqTx(tx)}
		return putFriend(tx, f)
	}); err != nil {
		return hr, "", err
	}
	body, err := json.Marshal(hello)
	if err == nil {
		err = s.post(ctx, canonical, fedproto.PathHello, body, fedproto.MaxHelloAnswer, &hr)
	}
	if err == nil {
		err = checkHelloResult(hr, canonical, info.PublicKey)
	}
	if err != nil {
		s.undoIntroducing(canonical, prev)
		if re, ok := asRemote(err); ok && re.Message != "" {
			return hr, "", fmt.Errorf("it refused the introduction (%d %s): %s", re.Status, re.Code, re.Message)
		}
		return hr, "", fmt.Errorf("the introduction failed: %s", fetchReason(err))
	}
	err = s.st.Update(func(tx *bolt.Tx) error {
		f, err := getFriend(tx, canonical)
		if err != nil {
			return errors.New("it was removed while being introduced")
		}
		if f.State != stateIntroducing {
			return nil // it introduced itself meanwhile: that exchange stands
		}
		f.Name = hr.Pod.Name
		if hr.Status == fedproto.HelloRequested {
			f.setState(stateRequested, now)
			if err := outbox.CloseTx(tx, canonical); err != nil {
				return err
			}
			return putFriend(tx, f)
		}
		f.setState(stateSyncing, now)
		f.LastSeq, f.LastSeen, f.Cursor, f.Received, f.Videos = hr.Seq, now, "", 0, 0
		f.Failures, f.NextAttempt, f.LastError = 0, time.Time{}, ""
		if ob := outbox.QueueTx(tx, canonical); ob != nil {
			// It pages our catalogue as of now or later: events up to
			// the sequence it was told are moot.
			c := ob.Cursor()
			for k, _ := c.First(); k != nil && bytesToSeq(k) <= hello.Seq; k, _ = c.First() {
				if err := c.Delete(); err != nil {
					return err
				}
			}
		}
		if err := s.cat.DropPodTx(tx, canonical); err != nil {
			return err
		}
		return putFriend(tx, f)
	})
	if err != nil {
		return hr, "", fmt.Errorf("store the friendship: %w", err)
	}
	if hr.Status == fedproto.HelloRequested {
		s.log.Info("asked a pod for friendship; waiting for its admin", "pod", canonical)
		return hr, canonical, nil
	}
	if err := s.pullCatalog(ctx, canonical); err != nil {
		s.log.Info("paging a new friend's catalogue; the worker will resume", "friend", canonical, "err", err)
	}
	s.log.Info("made friends", "friend", canonical, "their_friends", len(hr.Friends))
	s.signal()
	return hr, canonical, nil
}

// fetchReason says in plain words why a fetch failed, without dial
// errors or addresses.
func fetchReason(err error) string {
	var re *remoteError
	switch {
	case errors.Is(err, errPrivateAddress):
		return "its address is not public (loopback, private, link-local or multicast); --federation-allow-private lifts this on test networks"
	case errors.Is(err, context.DeadlineExceeded):
		return "it did not answer in time"
	case errors.As(err, &re):
		return re.Error()
	}
	return "it is unreachable or not a pod"
}

func checkHelloResult(hr fedproto.HelloResult, canonical, key string) error {
	if err := fedproto.CheckPodRef(hr.Pod); err != nil {
		return fmt.Errorf("its answer is invalid: %w", err)
	}
	if u, _ := fedproto.NormalizePodURL(hr.Pod.URL); u != canonical || !sameKey(hr.Pod.PublicKey, key) {
		return errors.New("its answer names another pod or key than its pod info")
	}
	if hr.Status != fedproto.HelloAccepted && hr.Status != fedproto.HelloRequested {
		return fmt.Errorf("its answer has an unknown status %q", hr.Status)
	}
	if len(hr.Friends) > fedproto.MaxHelloFriends {
		return errors.New("its answer is too large")
	}
	return nil
}

// undoIntroducing reverts a failed introduction: a new record is
// forgotten, an existing one gets its previous state back (its queue was
// kept).
func (s *Service) undoIntroducing(u string, prev *friendRecord) {
	err := s.st.Update(func(tx *bolt.Tx) error {
		f, err := getFriend(tx, u)
		if err != nil || f.State != stateIntroducing {
			return nil // changed meanwhile (e.g. it introduced itself)
		}
		if prev != nil {
			if prev.State == stateRequested {
				if err := outbox.CloseTx(tx, u); err != nil {
					return err
				}
			}
			return putFriend(tx, prev)
		}
		return s.removeFriendTx(tx, u)
	})
	if err != nil {
		s.log.Error("federation: undo failed introduction", "pod", u, "err", err)
	}
}

// Accept accepts introductions waiting for this pod's admin (or refused
// earlier): this pod introduces itself back to each, which counts as
// consent on both sides. The result is MakeFriends'; the error wraps
// ErrInvalidPods for no usable URL, ErrNoRequest when none of the pods
// asked, ErrNoneSucceeded when none could be accepted.
func (s *Service) Accept(ctx context.Context, pods []string) (api.MakeFriendsResult, error) {
	res := api.MakeFriendsResult{Errors: map[string]string{}}
	if len(pods) == 0 || len(pods) > 100 {
		return res, errPodCount
	}
	var todo []string
	given := map[string]string{}
	err := s.st.View(func(tx *bolt.Tx) error {
		for _, p := range pods {
			n, err := fedproto.NormalizePodURL(p)
			if err != nil {
				res.Errors[p] = httpx.UserText(err)
				continue
			}
			if _, err := getRequest(tx, n); err != nil {
				res.Errors[p] = "this pod holds no introduction from it"
				continue
			}
			if given[n] == "" {
				given[n] = p
				todo = append(todo, n)
			}
		}
		return nil
	})
	if err != nil {
		return res, err
	}
	if len(todo) == 0 {
		return res, fmt.Errorf("%w: no introduction to accept: %s", ErrNoRequest, joinErrors(res.Errors))
	}
	ok := 0
	var mu sync.Mutex
	s.introduceAll(ctx, todo, s.cfg.HelloTimeout, func(target string, hr fedproto.HelloResult, canonical string, err error) {
		mu.Lock()
		defer mu.Unlock()
		switch {
		case err != nil:
			s.log.Info("accept: introduction failed", "pod", target, "err", err)
			res.Errors[given[target]] = httpx.UserText(err)
		case hr.Status == fedproto.HelloRequested:
			ok++
			res.Requested = append(res.Requested, canonical)
		default:
			ok++
		}
	})
	if res.Friends, err = s.Friends(); err != nil {
		return res, err
	}
	if ok == 0 {
		return res, fmt.Errorf("%w: no introduction could be accepted: %s", ErrNoneSucceeded, joinErrors(res.Errors))
	}
	return res, nil
}

// Refuse refuses introductions waiting for this pod's admin: each stays
// listed as refused (its further introductions get 403
// friendship_refused until an admin accepts it or makes friends with
// it), and is told, best effort, so that it forgets its request. The
// error wraps ErrInvalidPods for a list too short or too long, and
// ErrNoRequest when none of pods asked.
func (s *Service) Refuse(ctx context.Context, pods []string) error {
	if len(pods) == 0 || len(pods) > 100 {
		return errPodCount
	}
	var refused []string
	err := s.st.Update(func(tx *bolt.Tx) error {
		refused = refused[:0]
		for _, p := range pods {
			n, err := fedproto.NormalizePodURL(p)
			if err != nil {
				continue
			}
			rq, err := getRequest(tx, n)
			if err != nil {
				continue
			}
			if !rq.Refused {
				refused = append(refused, n)
			}
			rq.Refused, rq.At = true, s.cfg.Now()
			if err := putRequest(tx, n, rq); err != nil {
				return err
			}
		}
		// Refusals are remembered, but not without bound: beyond
		// MaxRequests the oldest are forgotten.
		_, old, err := countRequests(tx)
		for len(old) > s.cfg.MaxRequests && err == nil {
			err = deleteRequest(tx, old[0])
			old = old[1:]
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("federation: refuse: %w", err)
	}
	if len(refused) == 0 {
		return fmt.Errorf("%w: this pod holds no introduction from %s", ErrNoRequest, strings.Join(pods, ", "))
	}
	quit, _ := json.Marshal(fedproto.Quit{Nonce: fedproto.NewNonce()})
	s.background(func(ctx context.Context) { s.broadcast(ctx, refused, fedproto.PathQuit, quit) })
	return nil
}

// QuitFriends tells every friend this pod leaves (best effort, each
// bounded by RequestTimeout), then forgets them all and their videos,
// the introductions waiting for the admin and the ejected pods.
func (s *Service) QuitFriends(ctx context.Context) error {
	var all []string
	if err := s.st.View(func(tx *bolt.Tx) error {
		return forEachFriend(tx, func(f *friendRecord) error {
			all = append(all, f.URL)
			return nil
		})
	}); err != nil {
		return fmt.Errorf("federation: list friends: %w", err)
	}
	quit, _ := json.Marshal(fedproto.Quit{Nonce: fedproto.NewNonce()})
	s.broadcast(ctx, all, fedproto.PathQuit, quit)
	err := s.st.Update(func(tx *bolt.Tx) error {
		for _, u := range all {
			if err := s.removeFriendTx(tx, u); err != nil {
				return err
			}
		}
		for _, name := range []string{bucketEjected, bucketRequests} {
			if err := clearBucket(tx, name); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("federation: quit friends: %w", err)
	}
	s.log.Info("quit all friends", "count", len(all))
	return nil
}

func clearBucket(tx *bolt.Tx, name string) error {
	b := tx.Bucket([]byte(name))
	var keys [][]byte
	if err := b.ForEach(func(k, _ []byte) error { keys = append(keys, append([]byte(nil), k...)); return nil }); err != nil {
		return err
	}
	for _, k := range keys {
		if err := b.Delete(k); err != nil {
			return err
		}
	}
	return nil
}
