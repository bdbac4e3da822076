package federation

// The protocol layer of the pod-to-pod routes, as syncthing's
// lib/protocol is to its model: it authenticates (HTTP Signature, Digest,
// Date, Host, replays), limits (per-friend and per-IP token buckets, body
// sizes) and decodes each request, then hands the model (model.go) a
// verified sender and a decoded message, and answers the model's domain
// errors with the protocol's codes (protocolError). It holds no
// transaction and changes no friend record itself.

import (
	"context"
	"crypto/rsa"
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

	"github.com/swarmtube/swarmtube/server/api"
	"github.com/swarmtube/swarmtube/server/clientaddr"
	"github.com/swarmtube/swarmtube/server/federation/fedproto"
	"github.com/swarmtube/swarmtube/server/httpx"
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
func verify(r *http.Request, pub *rsa.PublicKey) error {
	v, err := httpsig.NewVerifier(r)
	if err != nil {
		return refusal(ErrBadSignature, fmt.Errorf("bad signature: %w", err))
	}
	if err := v.Verify(pub, httpsig.RSA_SHA256); err != nil {
		return refusal(ErrBadSignature, errors.New("bad signature: it does not verify with the signer's key"))
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
			return nil, httpx.Errorf(http.StatusRequestEntityTooLarge, "too_large", "the request body exceeds %s", httpx.SizeText(limit))
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
	f, err := s.friend(origin)
	if err != nil {
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
	err = protocolError(err)
	var he *httpx.Error
	code := "internal"
	if errors.As(err, &he) {
		code = he.Code
		if he.Status == http.StatusTooManyRequests {
			w.Header().Set("Retry-After", "1")
		}
		if he.Status == http.StatusUnauthorized {
			w.Header().Set("WWW-Authenticate", SignatureChallenge) // RFC 9110 §11.6.1
		}
		if s.logLimit.Allow() {
			log.WarnContext(r.Context(), "federation request refused", "route", route, "remote", r.RemoteAddr,
				"key_id", keyIDOf(r), "status", he.Status, "code", he.Code, "reason", he.Message)
		}
	}
	s.metrics.inbound.WithLabelValues(route, code).Inc()
	httpx.WriteError(w, r, log, err)
}

// protocolError answers a domain error of the model (errors.go) with
// the protocol's code for it; an *httpx.Error of this layer, or any other
// error (a 500), is left as it is.
func protocolError(err error) error {
	var he *httpx.Error
	switch {
	case errors.As(err, &he):
		return err
	case errors.Is(err, errNoFriend):
		return ErrNotFriend
	case errors.Is(err, errRefused):
		return ErrRefused
	case errors.Is(err, errFriendLimit):
		return ErrFriendLimit
	case errors.Is(err, errRequestsFull):
		return ErrRequestsFull
	case errors.Is(err, fedproto.ErrInvalid):
		return refusal(ErrInvalidMessage, err)
	}
	return err
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
		res, err := s.receiveEvents(f, b.Events)
		if err != nil {
			s.fail(w, r, log, route, err)
			return
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
// signature verified with the key it carries (readHello), and that key
// confirmed against the sender's published pod info (confirmKey) unless
// this pod already holds it. Then the model decides (admit): a pod this
// pod asked, already knows as a friend, or that the policy admits becomes
// a friend at once (HelloAccepted); any other is kept as a request for
// the admin (HelloRequested).
func (s *Service) acceptHello(w http.ResponseWriter, r *http.Request) (fedproto.HelloResult, string, error) {
	now := s.cfg.Now()
	h, origin, version, err := s.readHello(w, r, now)
	if err != nil {
		return fedproto.HelloResult{}, "", err
	}
	consent, known, err := s.consentOf(origin, h.Pod.PublicKey)
	if err != nil {
		return fedproto.HelloResult{}, "", err
	}
	if !known {
		// Anyone can sign with a key of their own and claim a URL: the key
		// must be the one that URL publishes. That fetch is made on the
		// sender's behalf: limited per source, and guarded (newClient).
		if !s.fetchLimits.allow(clientIP(r), now) {
			return fedproto.HelloResult{}, "", ErrRateLimited
		}
		if err := s.confirmKey(r.Context(), origin, h.Pod.PublicKey); err != nil {
			return fedproto.HelloResult{}, "", err
		}
	}
	res, err := s.admit(origin, h, version, consent, now)
	if err != nil {
		return res, "", err
	}
	return res, origin, nil
}

// readHello is the protocol half of an introduction: the per-IP limit
// (introductions come from pods not yet known: they share the bucket of
// requests not from a friend, before any expensive work), the headers,
// the body against its Digest, the message, a keyId naming the
// introduced pod, a common API version, the signature with the key the
// body carries, and no replay. It returns the hello, the sender's
// normalized URL and the version both speak.
func (s *Service) readHello(w http.ResponseWriter, r *http.Request, now time.Time) (h fedproto.Hello, origin, version string, err error) {
	if !s.unauthLimits.allow(clientIP(r), now) {
		return h, "", "", ErrRateLimited
	}
	p, err := s.checkHeaders(r, now)
	if err != nil {
		return h, "", "", err
	}
	body, err := readBody(w, r, fedproto.MaxHelloBody)
	if err != nil {
		return h, "", "", err
	}
	if err := json.Unmarshal(body, &h); err != nil {
		return h, "", "", httpx.Errorf(http.StatusBadRequest, ErrInvalidMessage.Code, "malformed introduction")
	}
	if err := fedproto.CheckPodRef(h.Pod); err != nil {
		return h, "", "", refusal(ErrInvalidMessage, err)
	}
	origin, _ = fedproto.NormalizePodURL(h.Pod.URL)
	if kid, err := fedproto.NormalizePodURL(p.KeyID); err != nil || kid != origin {
		return h, "", "", httpx.Errorf(http.StatusUnauthorized, ErrBadSignature.Code, "keyId %q is not the introduced pod %s", p.KeyID, origin)
	}
	if origin == s.cfg.SelfURL {
		return h, "", "", httpx.Errorf(http.StatusBadRequest, ErrInvalidMessage.Code, "a pod cannot befriend itself")
	}
	version = fedproto.CommonVersion(s.Self().APIVersions, h.Pod.APIVersions)
	if version == "" {
		return h, "", "", httpx.Errorf(http.StatusBadRequest, ErrIncompatible.Code,
			"no common API version: %s speaks %v, this pod speaks %v", origin, h.Pod.APIVersions, s.Self().APIVersions)
	}
	pub, err := s.publicKey(h.Pod.PublicKey)
	if err != nil {
		return h, "", "", refusal(ErrInvalidMessage, err)
	}
	if err := verify(r, pub); err != nil {
		return h, "", "", err
	}
	if err := s.remember(p, now); err != nil {
		return h, "", "", err
	}
	return h, origin, version, nil
}

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

func (s *Service) handleQuit(log *slog.Logger) http.HandlerFunc {
	const route = "quit"
	return func(w http.ResponseWriter, r *http.Request) {
		f, _, err := s.authFriend(w, r, fedproto.MaxSmallBody, stateRequested, stateIntroducing, stateSyncing, stateActive)
		if err != nil {
			s.fail(w, r, log, route, err)
			return
		}
		if err := s.quit(f.URL); err != nil {
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
