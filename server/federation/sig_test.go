package federation

import (
	"bytes"
	"crypto/rsa"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/swarmtube/swarmtube/server/federation/fedproto"
	"github.com/swarmtube/swarmtube/server/httpx"
)

// checkSigned runs on r the signature checks authFriend runs, in its
// order, with pub as the sender's stored key: the headers (checkHeaders),
// the signature (go-fed/httpsig), then the body against its Digest. It
// returns the refusal's code, or "" when r passes.
func checkSigned(r *http.Request, body []byte, now time.Time, pub *rsa.PublicKey) string {
	s := &Service{host: "b.example:9002"}
	err := func() error {
		if _, err := s.checkHeaders(r, now); err != nil {
			return err
		}
		if err := verify(r, pub); err != nil {
			return err
		}
		r.Body = readCloser(string(body))
		_, err := readBody(httptest.NewRecorder(), r, fedproto.MaxEventsBody)
		return err
	}()
	var he *httpx.Error
	if errors.As(err, &he) {
		return he.Code
	}
	if err != nil {
		return err.Error()
	}
	return ""
}

// signedFor is a request to pod b.example:9002 signed by SignRequest.
func signedFor(t testing.TB, body []byte, key *rsa.PrivateKey, now time.Time) *http.Request {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, "http://b.example:9002"+fedproto.PathEvents, nil)
	if err := SignRequest(r, body, "http://a.example:9001", key, now); err != nil {
		t.Fatal(err)
	}
	return r
}

// TestSignVerifyRequest: what SignRequest signs, the inbound checks
// accept; every change after signing, and every stale or foreign part, is
// refused with its code.
func TestSignVerifyRequest(t *testing.T) {
	t.Parallel()
	now := time.Now()
	body := []byte(`{"events":[]}`)
	k, other := testKey(t, false), testKey(t, true)
	cases := []struct {
		name   string
		mutate func(r *http.Request) ([]byte, *rsa.PublicKey)
		want   string
	}{
		{"good", func(r *http.Request) ([]byte, *rsa.PublicKey) { return body, &k.PublicKey }, ""},
		{"tampered body", func(r *http.Request) ([]byte, *rsa.PublicKey) { return []byte(`{"events":[{}]}`), &k.PublicKey }, ErrBadDigest.Code},
		{"digest replaced to match tampered body", func(r *http.Request) ([]byte, *rsa.PublicKey) {
			b := []byte(`{"events":[{}]}`)
			r.Header.Set("Digest", fedproto.Digest(b))
			return b, &k.PublicKey
		}, ErrBadSignature.Code},
		{"other key", func(r *http.Request) ([]byte, *rsa.PublicKey) { return body, &other.PublicKey }, ErrBadSignature.Code},
		{"other path", func(r *http.Request) ([]byte, *rsa.PublicKey) {
			r.URL.Path = fedproto.PathQuit
			return body, &k.PublicKey
		}, ErrBadSignature.Code},
		{"other host", func(r *http.Request) ([]byte, *rsa.PublicKey) {
			r.Host = "c.example:9003"
			return body, &k.PublicKey
		}, ErrWrongHost.Code},
		{"old date", func(r *http.Request) ([]byte, *rsa.PublicKey) {
			r.Header.Set("Date", now.Add(-10*time.Minute).UTC().Format(http.TimeFormat))
			return body, &k.PublicKey
		}, ErrClockSkew.Code},
		{"digest not covered", func(r *http.Request) ([]byte, *rsa.PublicKey) {
			r.Header.Set("Signature", strings.Replace(r.Header.Get("Signature"), " digest", "", 1))
			return body, &k.PublicKey
		}, ErrBadSignature.Code},
		{"no signature", func(r *http.Request) ([]byte, *rsa.PublicKey) {
			r.Header.Del("Signature")
			return body, &k.PublicKey
		}, ErrBadSignature.Code},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := signedFor(t, body, k, now)
			b, pub := tc.mutate(r)
			if got := checkSigned(r, b, now, pub); got != tc.want {
				t.Fatalf("refused with %q, want %q", got, tc.want)
			}
		})
	}
}

// FuzzVerifyRequest feeds arbitrary Signature, Date and Digest headers and
// bodies to the inbound checks: they never panic and never accept anything
// but the one genuinely signed combination (up to white space).
func FuzzVerifyRequest(f *testing.F) {
	now := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	body := []byte(`{"events":[]}`)
	k := testKey(f, false)
	r := signedFor(f, body, k, now)
	good := [3]string{r.Header.Get("Signature"), r.Header.Get("Date"), r.Header.Get("Digest")}
	f.Add(good[0], good[1], good[2], body)
	f.Add(`keyId="http://a.example:9001",algorithm="rsa-sha256",headers="(request-target) host date digest",signature="AAECAw=="`, good[1], good[2], body)
	f.Add(good[0], good[1], good[2], []byte(`{"events":[{}]}`))
	f.Add(strings.Replace(good[0], " digest", "", 1), good[1], good[2], body)
	f.Fuzz(func(t *testing.T, sig, date, digest string, b []byte) {
		req := httptest.NewRequest(http.MethodPost, "http://b.example:9002"+fedproto.PathEvents, nil)
		req.Header.Set("Signature", sig)
		req.Header.Set("Date", date)
		req.Header.Set("Digest", digest)
		if checkSigned(req, b, now, &k.PublicKey) == "" && !bytes.Equal(b, body) ||
			checkSigned(req, b, now, &k.PublicKey) == "" && (strings.TrimSpace(date) != good[1] || strings.TrimSpace(digest) != good[2]) {
			t.Fatalf("accepted a forged request: sig=%q date=%q digest=%q body=%q", sig, date, digest, b)
		}
	})
}
