package federation

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/go-fed/httpsig"
	bolt "go.etcd.io/bbolt"

	"github.com/swarmtube/swarmtube/server/api"
	"github.com/swarmtube/swarmtube/server/clientaddr"
	"github.com/swarmtube/swarmtube/server/federation/fedproto"
	"github.com/swarmtube/swarmtube/server/httpx"
	"github.com/swarmtube/swarmtube/server/store"
)

// refusal builds a protocol error from a sentinel with a precise message.
func refusal(base *httpx.Error, err error) *httpx.Error {
	return &httpx.Error{Status: base.Status, Code: base.Code, Message: httpx.UserText(err)}
}

// checkHeaders does the checks that need no key: the Signature header
// parses and covers the required headers, the Date is fresh, and the
// request names this pod as its host.
func (s *Service) checkHeaders(r *http.Request, now time.Time) (fedproto.SignatureParams, error) {
	p, err := fedproto.ParseSignature(r.Header.Get("Signature"))
	if err != nil {
		return p, refusal(ErrBadSignature, err)
	}
	if err := p.CheckCovers(); err != nil {
		return p, refusal(ErrBadSignature, err)
	}
	if err := fedproto.CheckDate(r.Header.Get("Date"), now); err != nil {
		return p, refusal(ErrClockSkew, err)
	}
	if !strings.EqualFold(r.Host, s.host) {
		return p, ErrWrongHost
	}
	return p, nil
}

// verify checks the signature of r with pub (go-fed/httpsig does the
// cryptography; checkHeaders already enforced what it must cover).
func verify(r *http.Request, pub any) error {
	v, err := httpsig.NewVerifier(r)
	if err != nil {
		return refusal(ErrBadSignature, fmt.Errorf("fedproto: bad signature: %w", err))
	}
	if err := v.Verify(pub, httpsig.RSA_SHA256); err != nil {
		return refusal(ErrBadSignature, errors.New("fedproto: bad signature: it does not verify with the signer's key"))
	}
	return nil
}

// readBody reads at most limit bytes of body and checks them against the
// Digest header.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, httpx.Errorf(http.StatusRequestEntityTooLarge, "too_large", "the request body exceeds %d bytes", limit)
		}
		return nil, httpx.Errorf(http.StatusBadRequest, "bad_body", "could not read the request body")
	}
	if err := fedproto.CheckDigest(fedproto.DigestHeader(r.Header), body); err != nil {
		return nil, refusal(ErrBadDigest, err)
	}
	return body, nil
}

// remember records the request's signature so it cannot be replayed.
func (s *Service) remember(p fedproto.SignatureParams, now time.Time) error {
	sum := sha256.Sum256(p.Signature)
	if !s.replays.add(string(sum[:]), now, now.Add(2*fedproto.MaxClockSkew)) {
		return ErrReplayed
	}
	return nil
}

// clientIP keys the per-address limits: the peer, or the client a trusted
// reverse proxy names (server/clientaddr).
func clientIP(r *http.Request) string { return clientaddr.Addr(r).String() }

// authFriend authenticates a request from a friend and returns the
// friend and the verified body (at most limit bytes). The signature is
// checked with the stored key before the body is read. states lists the
// friend states the route serves; a friend still introducing or syncing
// gets ErrPending (retry shortly), any other ErrNotFriend. Requests that
// do not come from a friend are charged to the client IP's bucket, so
// junk cannot starve friends.
func (s *Service) authFriend(w http.ResponseWriter, r *http.Request, limit int64, states ...string) (*friendRecord, []byte, error) {
	now := s.cfg.Now()
	unauth := func(err error) error {
		if !s.unauthLimits.allow(clientIP(r), now) {
			return ErrRateLimited
		}
		return err
	}
	p, err := s.checkHeaders(r, now)
	if err != nil {
		return nil, nil, unauth(err)
	}
	origin, err := fedproto.NormalizePodURL(p.KeyID)
	if err != nil {
		return nil, nil, unauth(refusal(ErrBadSignature, fmt.Errorf("keyId %q is not a pod URL", p.KeyID)))
	}
	var f *friendRecord
	if err := s.st.View(func(tx *bolt.Tx) error {
		f, err = getFriend(tx, origin)
		return err
	}); err != nil {
		if errors.Is(err, errNoFriend) {
			return nil, nil, unauth(ErrNotFriend)
		}
		return nil, nil, err
	}
	if !slices.Contains(states, f.State) {
		if f.State == stateIntroducing || f.State == stateSyncing {
			return nil, nil, unauth(ErrPending)
		}
		return nil, nil, unauth(ErrNotFriend)
	}
	pub, err := s.publicKey(f.PublicKey)
	if err != nil {
		return nil, nil, fmt.Errorf("federation: stored key of %s: %w", origin, err)
	}
	if err := verify(r, pub); err != nil {
		return nil, nil, unauth(err)
	}
	if !s.podLimits.allow(origin, now) {
		return nil, nil, ErrRateLimited
	}
	body, err := readBody(w, r, limit)
	if err != nil {
		return nil, nil, err
	}
	if err := s.remember(p, now); err != nil {
		return nil, nil, err
	}
	return f, body, nil
}

// fail answers a refused federation request, logging it (sampled, so a
// flood cannot flood the log too) and counting it.
func (s *Service) fail(w http.ResponseWriter, r *http.Request, log *slog.Logger, route string, err error) {
	var he *httpx.Error
	code := "internal"
	if errors.As(err, &he) {
		code = he.Code
		if he.Status == http.StatusTooManyRequests {
			w.Header().Set("Retry-After", "1")
		}
		if s.logLimit.Allow() {
			log.WarnContext(r.Context(), "federation request refused", "route", route, "remote", r.RemoteAddr,
				"key_id", keyIDOf(r), "status", he.Status, "code", he.Code, "reason", he.Message)
		}
	}
	s.metrics.inbound.WithLabelValues(route, code).Inc()
	httpx.WriteError(w, r, log, err)
}

// keyIDOf extracts the keyId for logs, without trusting it.
func keyIDOf(r *http.Request) string {
	p, err := fedproto.ParseSignature(r.Header.Get("Signature"))
	if err != nil {
		return ""
	}
	return p.KeyID
}

func (s *Service) handleEvents(log *slog.Logger) http.HandlerFunc {
	const route = "events"
	return func(w http.ResponseWriter, r *http.Request) {
		f, body, err := s.authFriend(w, r, fedproto.MaxEventsBody, stateActive)
		if err != nil {
			s.fail(w, r, log, route, err)
			return
		}
		var b fedproto.Batch
		if err := json.Unmarshal(body, &b); err != nil || len(b.Events) > fedproto.MaxBatchEvents {
			s.penalize(f.URL, "malformed event batch")
			s.fail(w, r, log, route, httpx.Errorf(http.StatusBadRequest, ErrInvalidMessage.Code,
				"the body must be {\"events\": [...]} with at most %d events", fedproto.MaxBatchEvents))
			return
		}
		res, err := s.applyBatch(f.URL, b.Events)
		if err != nil {
			s.fail(w, r, log, route, err)
			return
		}
		if f.Failures > 0 || !f.NextAttempt.IsZero() && f.NextAttempt.After(s.cfg.Now()) {
			s.wakeFriend(f.URL) // it is up again: deliver what we hold for it now
		}
		for _, rj := range res.Rejected {
			log.Warn("refused an event from a friend", "friend", f.URL, "seq", rj.Seq, "reason", rj.Reason)
		}
		if len(b.Events) > 0 && res.Applied == 0 && len(res.Rejected) == 0 {
			s.metrics.inbound.WithLabelValues(route, ErrReplayedEvent.Code).Inc()
			httpx.WriteJSON(w, ErrReplayedEvent.Status, replayAnswer{
				Error:   api.Error{Error: ErrReplayedEvent.Code, Message: fmt.Sprintf("events up to %d of %s were already applied", res.LastSeq, f.URL)},
				LastSeq: res.LastSeq,
			})
			return
		}
		s.metrics.inbound.WithLabelValues(route, "ok").Inc()
		s.metrics.applied.Add(float64(res.Applied))
		httpx.WriteJSON(w, http.StatusOK, res)
	}
}

// replayAnswer is the 409 body of a batch that held only applied events:
// an API error plus the sequence the sender may forget up to.
type replayAnswer struct {
	api.Error
	LastSeq uint64 `json:"last_seq"`
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
			return ErrNotFriend // quit or ejected meanwhile
		}
		var prev uint64
		for _, e := range events {
			if e.Seq <= prev {
				return httpx.Errorf(http.StatusBadRequest, ErrInvalidMessage.Code, "event sequences must increase within a batch (%d after %d)", e.Seq, prev)
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

func (s *Service) handleHello(log *slog.Logger) http.HandlerFunc {
	const route = "hello"
	return func(w http.ResponseWriter, r *http.Request) {
		res, origin, err := s.acceptHello(w, r)
		if err != nil {
			s.fail(w, r, log, route, err)
			return
		}
		status := http.StatusOK
		if res.Status == fedproto.HelloRequested {
			status = http.StatusAccepted
			log.Info("a pod asks to be friends; waiting for an admin", "pod", origin)
		} else {
			log.Info("a pod introduced itself; now friends", "friend", origin)
		}
		s.metrics.inbound.WithLabelValues(route, res.Status).Inc()
		httpx.WriteJSON(w, status, res)
	}
}

// acceptHello handles an introduction. Its body is small (MaxHelloBody)
// and read before anything is known of the sender; it is checked, its
// signature verified with the key it carries, and that key confirmed
// against the sender's published pod info (confirmKey). Then the policy
// decides: a pod this pod asked, already knows as a friend, or that the
// policy admits becomes a friend at once (HelloAccepted); any other is
// kept as a request for the admin (HelloRequested).
func (s *Service) acceptHello(w http.ResponseWriter, r *http.Request) (fedproto.HelloResult, string, error) {
	var res fedproto.HelloResult
	now := s.cfg.Now()
	ip := clientIP(r)
	// Introductions come from pods not yet known: they share the per-IP
	// bucket, before any expensive work.
	if !s.unauthLimits.allow(ip, now) {
		return res, "", ErrRateLimited
	}
	p, err := s.checkHeaders(r, now)
	if err != nil {
		return res, "", err
	}
	body, err := readBody(w, r, fedproto.MaxHelloBody)
	if err != nil {
		return res, "", err
	}
	var h fedproto.Hello
	if err := json.Unmarshal(body, &h); err != nil {
		return res, "", httpx.Errorf(http.StatusBadRequest, ErrInvalidMessage.Code, "malformed introduction")
	}
	if err := fedproto.CheckPodRef(h.Pod); err != nil {
		return res, "", refusal(ErrInvalidMessage, err)
	}
	origin, _ := fedproto.NormalizePodURL(h.Pod.URL)
	if kid, err := fedproto.NormalizePodURL(p.KeyID); err != nil || kid != origin {
		return res, "", httpx.Errorf(http.StatusUnauthorized, ErrBadSignature.Code, "keyId %q is not the introduced pod %s", p.KeyID, origin)
	}
	if origin == s.cfg.SelfURL {
		return res, "", httpx.Errorf(http.StatusBadRequest, ErrInvalidMessage.Code, "a pod cannot befriend itself")
	}
	version := fedproto.CommonVersion(s.Self().APIVersions, h.Pod.APIVersions)
	if version == "" {
		return res, "", httpx.Errorf(http.StatusBadRequest, ErrIncompatible.Code,
			"no common API version: %s speaks %v, this pod speaks %v", origin, h.Pod.APIVersions, s.Self().APIVersions)
	}
	pub, err := s.publicKey(h.Pod.PublicKey)
	if err != nil {
		return res, "", refusal(ErrInvalidMessage, err)
	}
	if err := verify(r, pub); err != nil {
		return res, "", err
	}
	if err := s.remember(p, now); err != nil {
		return res, "", err
	}

	// What this pod already knows of the sender decides whether its key
	// needs confirming and whether it consents.
	var consent, known bool
	err = s.st.View(func(tx *bolt.Tx) error {
		if rq, err := getRequest(tx, origin); err == nil {
			if rq.Refused {
				return ErrRefused
			}
			known = sameKey(rq.PublicKey, h.Pod.PublicKey)
		}
		if f, err := getFriend(tx, origin); err == nil {
			consent = true // this pod asked it, or it is a friend introducing itself again
			known = sameKey(f.PublicKey, h.Pod.PublicKey)
		}
		return nil
	})
	if err != nil {
		return res, "", err
	}
	consent = consent || s.cfg.Accept == AcceptOpen || s.cfg.Accept == AcceptAllowlist && s.allowlisted(origin)
	if !known {
		// Anyone can sign with a key of their own and claim a URL: the key
		// must be the one that URL publishes. That fetch is made on the
		// sender's behalf: limited per source, and guarded (newClient).
		if !s.fetchLimits.allow(ip, now) {
			return res, "", ErrRateLimited
		}
		if err := s.confirmKey(r.Context(), origin, h.Pod.PublicKey); err != nil {
			return res, "", err
		}
	}
	if !consent {
		return s.storeRequest(origin, h.Pod, version, now)
	}
	res, err = s.befriendTx(origin, h.Pod, version, h.Seq, now)
	if err != nil {
		return res, "", err
	}
	s.wakeFriend(origin) // page its catalogue now
	return res, origin, nil
}

func sameKey(a, b string) bool { return strings.TrimSpace(a) == strings.TrimSpace(b) }

// confirmKey reads the pod info at origin and requires origin's URL and
// key there. Every failure is ErrKeyUnconfirmed, answered once
// ConfirmTimeout has passed since the fetch began: a refused address, a
// closed port, a hanging service and a pod with another key look alike
// from outside, in code, message and time.
func (s *Service) confirmKey(ctx context.Context, origin, key string) error {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.ConfirmTimeout)
	defer cancel()
	info, err := s.fetchPodInfo(ctx, origin)
	if err == nil {
		if u, _ := fedproto.NormalizePodURL(info.URL); u == origin && sameKey(info.PublicKey, key) {
			return nil
		}
	}
	s.log.Debug("could not confirm an introduction's key", "pod", origin, "err", err)
	<-ctx.Done()
	return ErrKeyUnconfirmed
}

// storeRequest keeps an introduction for the admin: at most MaxRequests
// wait at once (refused ones do not count; Refuse bounds those).
func (s *Service) storeRequest(origin string, ref fedproto.PodRef, version string, now time.Time) (fedproto.HelloResult, string, error) {
	err := s.st.Update(func(tx *bolt.Tx) error {
		if _, err := getRequest(tx, origin); err != nil {
			waiting, _, err := countRequests(tx)
			if err != nil {
				return err
			}
			if waiting >= s.cfg.MaxRequests {
				return ErrRequestsFull
			}
		}
		return putRequest(tx, origin, &requestRecord{Name: ref.Name, PublicKey: ref.PublicKey, APIVersion: version, At: now})
	})
	if err != nil {
		return fedproto.HelloResult{}, "", err
	}
	return fedproto.HelloResult{Status: fedproto.HelloRequested, Pod: s.Self()}, origin, nil
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
				return ErrFriendLimit
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
		if err := resetOutbox(tx, origin); err != nil {
			return err
		}
		if err := s.cat.DropPodTx(tx, origin); err != nil {
			return fmt.Errorf("federation: drop videos of %s: %w", origin, err)
		}
		res = fedproto.HelloResult{Status: fedproto.HelloAccepted, Pod: s.Self(), Seq: lastSeq(tx)}
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

func (s *Service) handleCatalog(log *slog.Logger) http.HandlerFunc {
	const route = "catalog"
	return func(w http.ResponseWriter, r *http.Request) {
		_, body, err := s.authFriend(w, r, fedproto.MaxSmallBody, stateIntroducing, stateSyncing, stateActive)
		if err != nil {
			s.fail(w, r, log, route, err)
			return
		}
		var req fedproto.CatalogRequest
		if err := json.Unmarshal(body, &req); err != nil || req.After != "" && !fedproto.ValidVideoID(req.After) {
			s.fail(w, r, log, route, httpx.Errorf(http.StatusBadRequest, ErrInvalidMessage.Code, "the body must be {\"after\": \"<video id>\" or \"\"}"))
			return
		}
		page, err := s.catalogPage(req.After)
		if err != nil {
			s.fail(w, r, log, route, err)
			return
		}
		s.metrics.inbound.WithLabelValues(route, "ok").Inc()
		httpx.WriteJSON(w, http.StatusOK, page)
	}
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

func (s *Service) handleQuit(log *slog.Logger) http.HandlerFunc {
	const route = "quit"
	return func(w http.ResponseWriter, r *http.Request) {
		f, _, err := s.authFriend(w, r, fedproto.MaxSmallBody, stateRequested, stateIntroducing, stateSyncing, stateActive)
		if err != nil {
			s.fail(w, r, log, route, err)
			return
		}
		if err := s.st.Update(func(tx *bolt.Tx) error { return s.removeFriendTx(tx, f.URL) }); err != nil {
			s.fail(w, r, log, route, err)
			return
		}
		log.Info("a friend quit; its videos are dropped", "friend", f.URL)
		s.metrics.inbound.WithLabelValues(route, "ok").Inc()
		w.WriteHeader(http.StatusNoContent)
	}
}

func (s *Service) handleEject(log *slog.Logger) http.HandlerFunc {
	const route = "eject"
	return func(w http.ResponseWriter, r *http.Request) {
		f, body, err := s.authFriend(w, r, fedproto.MaxSmallBody, stateActive)
		if err != nil {
			s.fail(w, r, log, route, err)
			return
		}
		var e fedproto.Eject
		target, nerr := "", json.Unmarshal(body, &e)
		if nerr == nil {
			target, nerr = fedproto.NormalizePodURL(e.Pod)
		}
		if nerr != nil || target == f.URL || target == s.cfg.SelfURL {
			s.fail(w, r, log, route, httpx.Errorf(http.StatusBadRequest, ErrInvalidMessage.Code, "the body must be {\"pod\": \"<URL of a third pod>\"}"))
			return
		}
		if err := s.reported(f.URL, target); err != nil {
			s.fail(w, r, log, route, err)
			return
		}
		log.Info("a friend reports it ejected a pod", "reporter", f.URL, "pod", target)
		s.metrics.inbound.WithLabelValues(route, "ok").Inc()
		w.WriteHeader(http.StatusNoContent)
	}
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
