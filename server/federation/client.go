package federation

import (
	"bytes"
	"context"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/go-fed/httpsig"

	"github.com/swarmtube/swarmtube/server/api"
	"github.com/swarmtube/swarmtube/server/federation/fedproto"
)

// remoteError is a non-2xx answer from another pod.
type remoteError struct {
	Status     int
	Code       string
	Message    string
	RetryAfter time.Duration
	Body       []byte // at most fedproto.MaxSmallBody
}

func (e *remoteError) Error() string {
	if e.Code != "" {
		return fmt.Sprintf("HTTP %d %s: %s", e.Status, e.Code, e.Message)
	}
	return fmt.Sprintf("HTTP %d", e.Status)
}

// post sends body, signed with this pod's key, to path on pod, and
// decodes a 2xx JSON answer of at most limit bytes into out (if not nil).
// The caller's ctx bounds the whole exchange.
func (s *Service) post(ctx context.Context, pod, path string, body []byte, limit int64, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, pod+path, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("federation: request %s%s: %w", pod, path, err)
	}
	req.Header.Set("Content-Type", "application/json")
	if err := SignRequest(req, body, s.cfg.SelfURL, s.id.Key, s.cfg.Now()); err != nil {
		return fmt.Errorf("federation: sign request to %s: %w", pod, err)
	}
	resp, err := s.cfg.HTTPClient.Do(req)
	if err != nil {
		return fmt.Errorf("federation: %s%s: %w", pod, path, err)
	}
	defer resp.Body.Close()
	return decodeAnswer(resp, limit, out)
}

// SignRequest signs r as a pod signs every request to another (HTTP
// Signatures, draft-cavage-12, rsa-sha256, by go-fed/httpsig): it sets
// Host from the URL and Date from now, adds the Digest of body (RFC 3230,
// SHA-256) unless body is nil, in which case r's own Digest header is
// signed as it is, and signs fedproto.RequiredHeaders with key under the
// keyId keyID (the pod's URL). Tests use it to speak as a pod.
func SignRequest(r *http.Request, body []byte, keyID string, key *rsa.PrivateKey, now time.Time) error {
	r.Header.Set("Host", r.URL.Host)
	r.Header.Set("Date", now.UTC().Format(http.TimeFormat))
	// Signers are not safe for concurrent use and cheap to make.
	signer, _, err := httpsig.NewSigner([]httpsig.Algorithm{httpsig.RSA_SHA256}, httpsig.DigestSha256,
		fedproto.RequiredHeaders, httpsig.Signature, 0)
	if err != nil {
		return fmt.Errorf("federation: signer: %w", err)
	}
	return signer.SignRequest(key, keyID, r, body)
}

// decodeAnswer reads a JSON answer of at most limit bytes.
func decodeAnswer(resp *http.Response, limit int64, out any) error {
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		data, _ := io.ReadAll(io.LimitReader(resp.Body, fedproto.MaxSmallBody))
		re := &remoteError{Status: resp.StatusCode, Body: data}
		var ae api.Error
		if json.Unmarshal(data, &ae) == nil {
			re.Code, re.Message = ae.Error, ae.Message
		}
		if secs, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && secs > 0 {
			re.RetryAfter = time.Duration(min(secs, 3600)) * time.Second
		}
		return fmt.Errorf("federation: %s %s: %w", resp.Request.Method, resp.Request.URL, re)
	}
	if out == nil {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, limit))
		return nil
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return fmt.Errorf("federation: read answer of %s: %w", resp.Request.URL, err)
	}
	if int64(len(data)) > limit {
		return fmt.Errorf("federation: answer of %s exceeds %d bytes", resp.Request.URL, limit)
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("federation: decode answer of %s: %w", resp.Request.URL, err)
	}
	return nil
}

// fetchPodInfo reads pod's public info (GET /api/v1/pod, unsigned: it is
// public), bounded by ctx.
func (s *Service) fetchPodInfo(ctx context.Context, pod string) (api.PodInfo, error) {
	var info api.PodInfo
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, pod+fedproto.PathPodInfo, nil)
	if err != nil {
		return info, fmt.Errorf("federation: %s: %w", pod, err)
	}
	resp, err := s.cfg.HTTPClient.Do(req)
	if err != nil {
		return info, fmt.Errorf("federation: pod info of %s: %w", pod, err)
	}
	defer resp.Body.Close()
	if err := decodeAnswer(resp, fedproto.MaxSmallBody, &info); err != nil {
		return info, err
	}
	return info, nil
}

// deferred reports whether err is a friend's answer that asks for a later
// try and blames no one, and when to try again: a 429 (its Retry-After,
// at least min), or 403 friendship_pending while it finishes our
// introduction (min). The worker backs off without a penalty then.
func deferred(err error, min time.Duration) (time.Duration, bool) {
	re, ok := asRemote(err)
	if !ok || re.Status != http.StatusTooManyRequests && re.Code != ErrPending.Code {
		return 0, false
	}
	return max(re.RetryAfter, min), true
}

// replayed reports whether err is a friend's 409 replayed_event answer to
// a batch it had applied entirely already, and the sequence it holds
// (replayAnswer.LastSeq): a success for the sender, which may forget up
// to it.
func replayed(err error) (lastSeq uint64, ok bool) {
	re, isRemote := asRemote(err)
	if !isRemote || re.Status != http.StatusConflict || re.Code != ErrReplayedEvent.Code {
		return 0, false
	}
	var ra replayAnswer
	if json.Unmarshal(re.Body, &ra) != nil {
		return 0, false
	}
	return ra.LastSeq, true
}

// asRemote returns the remote error inside err, if any.
func asRemote(err error) (*remoteError, bool) {
	var re *remoteError
	ok := errors.As(err, &re)
	return re, ok
}
