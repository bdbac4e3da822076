package federation

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	bolt "go.etcd.io/bbolt"

	"github.com/swarmtube/swarmtube/server/api"
	"github.com/swarmtube/swarmtube/server/federation/fedproto"
	"github.com/swarmtube/swarmtube/server/httpx"
)

// MakeFriends introduces this pod to each of pods and then to each of
// their friends, exchanging catalogues with every one. The result lists
// all friends afterwards and, per pod URL as given (or as learnt from a
// friend), why it failed. The error is an *httpx.Error when no named pod
// could be befriended (400 for bad input, 502 otherwise).
func (s *Service) MakeFriends(ctx context.Context, pods []string) (api.MakeFriendsResult, error) {
	s.adminMu.Lock()
	defer s.adminMu.Unlock()
	res := api.MakeFriendsResult{Errors: map[string]string{}}
	if len(pods) == 0 || len(pods) > 100 {
		return res, httpx.Errorf(http.StatusBadRequest, "invalid_pods", "name 1 to 100 pod URLs in \"pods\"")
	}
	type item struct {
		url, given string
		named      bool
	}
	var queue []item
	seen := map[string]bool{s.cfg.SelfURL: true}
	for _, p := range pods {
		n, err := fedproto.NormalizePodURL(p)
		switch {
		case err != nil:
			res.Errors[p] = err.Error()
		case n == s.cfg.SelfURL:
			res.Errors[p] = "that is this pod"
		case !seen[n]:
			seen[n] = true
			queue = append(queue, item{n, p, true})
		}
	}
	if len(queue) == 0 {
		return res, httpx.Errorf(http.StatusBadRequest, "invalid_pods", "no pod to befriend: %s", joinErrors(res.Errors))
	}
	known, err := s.friendURLs()
	if err != nil {
		return res, err
	}
	namedOK := 0
	for i := 0; i < len(queue); i++ {
		it := queue[i]
		hr, canonical, err := s.introduce(ctx, it.url)
		if err != nil {
			s.log.Info("makefriends: introduction failed", "pod", it.url, "err", err)
			res.Errors[it.given] = httpx.UserText(err) // no dial errors or addresses for the client
			continue
		}
		seen[canonical] = true
		if !it.named {
			continue
		}
		namedOK++
		for _, f := range hr.Friends {
			n, err := fedproto.NormalizePodURL(f)
			if err != nil || seen[n] || slices.Contains(known, n) {
				continue
			}
			seen[n] = true
			queue = append(queue, item{n, n, false})
		}
	}
	if res.Friends, err = s.Friends(); err != nil {
		return res, err
	}
	if namedOK == 0 {
		return res, httpx.Errorf(http.StatusBadGateway, "makefriends_failed", "no friendship was set up: %s", joinErrors(res.Errors))
	}
	return res, nil
}

func joinErrors(m map[string]string) string {
	var parts []string
	for p, e := range m {
		parts = append(parts, p+": "+e)
	}
	slices.Sort(parts)
	return strings.Join(parts, "; ")
}

// friendURLs lists current (not pending) friends.
func (s *Service) friendURLs() ([]string, error) {
	var out []string
	err := s.st.View(func(tx *bolt.Tx) error {
		return forEachFriend(tx, func(f *friendRecord) error {
			if !f.Pending {
				out = append(out, f.URL)
			}
			return nil
		})
	})
	return out, err
}

// introduce befriends the pod at target: it reads the pod's info (common
// API version, key, canonical URL), records it as a pending friend in the
// same transaction as this pod's catalogue snapshot, posts the Hello, and
// on success stores the pod's catalogue and activates it. It returns the
// pod's answer and canonical URL.
func (s *Service) introduce(ctx context.Context, target string) (fedproto.HelloResult, string, error) {
	var hr fedproto.HelloResult
	ctx, cancel := context.WithTimeout(ctx, s.cfg.HelloTimeout)
	defer cancel()
	info, err := s.fetchPodInfo(ctx, target)
	if err != nil {
		return hr, "", fmt.Errorf("cannot read its pod info: %w", err)
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

	var hello fedproto.Hello
	var prev *friendRecord
	now := s.cfg.Now()
	if _, err := s.withSnapshot(func(tx *bolt.Tx, videos []api.Video, seq uint64) (any, error) {
		f, err := getFriend(tx, canonical)
		switch {
		case err == nil:
			old := *f
			prev = &old
		case errors.Is(err, errNoFriend):
			prev = nil
			f = &friendRecord{URL: canonical, Score: ScoreInitial, AddedAt: now}
		default:
			return nil, err
		}
		f.Pending, f.Name, f.PublicKey, f.APIVersion = true, info.Name, info.PublicKey, version
		if _, err := outboxOf(tx, canonical, true); err != nil {
			return nil, err
		}
		hello = fedproto.Hello{Nonce: fedproto.NewNonce(), Pod: s.Self(), Seq: seq, Videos: videos}
		return nil, putFriend(tx, f)
	}); err != nil {
		return hr, "", err
	}
	body, err := json.Marshal(hello)
	if err == nil {
		err = s.post(ctx, canonical, fedproto.PathHello, body, fedproto.MaxHelloBody, &hr)
	}
	if err == nil {
		err = checkHelloResult(hr, canonical, info.PublicKey)
	}
	if err != nil {
		s.undoPending(canonical, prev)
		if re, ok := asRemote(err); ok && re.Message != "" {
			return hr, "", fmt.Errorf("it refused the introduction (%d %s): %s", re.Status, re.Code, re.Message)
		}
		return hr, "", err
	}
	err = s.st.Update(func(tx *bolt.Tx) error {
		f, err := getFriend(tx, canonical)
		if err != nil {
			return errors.New("it was removed while being introduced")
		}
		f.Pending, f.Name, f.LastSeq, f.LastSeen = false, hr.Pod.Name, hr.Seq, now
		f.Failures, f.NextAttempt, f.LastError = 0, now, ""
		if ob, _ := outboxOf(tx, canonical, false); ob != nil {
			// It now holds our snapshot: events up to its sequence are moot.
			c := ob.Cursor()
			for k, _ := c.First(); k != nil && bytesToSeq(k) <= hello.Seq; k, _ = c.First() {
				if err := c.Delete(); err != nil {
					return err
				}
			}
		}
		if _, err := s.applySnapshotTx(tx, canonical, hr.Videos); err != nil {
			return err
		}
		return putFriend(tx, f)
	})
	if err != nil {
		return hr, "", fmt.Errorf("store its catalogue: %w", err)
	}
	s.log.Info("made friends", "friend", canonical, "their_videos", len(hr.Videos), "their_friends", len(hr.Friends))
	s.signal()
	return hr, canonical, nil
}

func checkHelloResult(hr fedproto.HelloResult, canonical, key string) error {
	if err := fedproto.CheckPodRef(hr.Pod); err != nil {
		return fmt.Errorf("its answer is invalid: %w", err)
	}
	if u, _ := fedproto.NormalizePodURL(hr.Pod.URL); u != canonical || strings.TrimSpace(hr.Pod.PublicKey) != strings.TrimSpace(key) {
		return errors.New("its answer names another pod or key than its pod info")
	}
	if len(hr.Videos) > fedproto.MaxHelloVideos || len(hr.Friends) > fedproto.MaxHelloFriends {
		return errors.New("its answer is too large")
	}
	return nil
}

// undoPending reverts a failed introduction: a new friend is forgotten,
// an existing one gets its previous record back (its queue was kept).
func (s *Service) undoPending(u string, prev *friendRecord) {
	err := s.st.Update(func(tx *bolt.Tx) error {
		f, err := getFriend(tx, u)
		if err != nil || !f.Pending {
			return nil // changed meanwhile (e.g. it introduced itself)
		}
		if prev != nil {
			return putFriend(tx, prev)
		}
		return s.removeFriendTx(tx, u)
	})
	if err != nil {
		s.log.Error("federation: undo failed introduction", "pod", u, "err", err)
	}
}

// QuitFriends tells every friend this pod leaves (best effort, each
// bounded by RequestTimeout), then forgets them all and their videos.
func (s *Service) QuitFriends(ctx context.Context) error {
	s.adminMu.Lock()
	defer s.adminMu.Unlock()
	var all []string
	if err := s.st.View(func(tx *bolt.Tx) error {
		return forEachFriend(tx, func(f *friendRecord) error {
			all = append(all, f.URL)
			return nil
		})
	}); err != nil {
		return fmt.Errorf("federation: list friends: %w", err)
	}
	active, err := s.friendURLs()
	if err != nil {
		return fmt.Errorf("federation: list friends: %w", err)
	}
	quit, _ := json.Marshal(fedproto.Quit{Nonce: fedproto.NewNonce()})
	s.broadcast(ctx, active, fedproto.PathQuit, quit)
	err = s.st.Update(func(tx *bolt.Tx) error {
		for _, u := range all {
			if err := s.removeFriendTx(tx, u); err != nil {
				return err
			}
		}
		b := tx.Bucket([]byte(bucketEjected))
		var dead [][]byte
		if err := b.ForEach(func(k, _ []byte) error { dead = append(dead, append([]byte(nil), k...)); return nil }); err != nil {
			return err
		}
		for _, k := range dead {
			if err := b.Delete(k); err != nil {
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
