package federation

import (
	"bytes"
	"context"
	"crypto/rsa"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/swarmtube/swarmtube/internal/testenv"
	"github.com/swarmtube/swarmtube/server/api"
	"github.com/swarmtube/swarmtube/server/federation/fedproto"
	"github.com/swarmtube/swarmtube/server/httpx"
)

const wait = 10 * time.Second

func makeFriends(t *testing.T, p *testPod, others ...*testPod) api.MakeFriendsResult {
	t.Helper()
	var urls []string
	for _, o := range others {
		urls = append(urls, o.url)
	}
	res, err := p.fed.MakeFriends(context.Background(), urls)
	if err != nil {
		t.Fatalf("MakeFriends(%v): %v (%v)", urls, err, res.Errors)
	}
	if len(res.Errors) > 0 {
		t.Fatalf("MakeFriends(%v) errors: %v", urls, res.Errors)
	}
	// The named pods page this pod's catalogue in the background.
	settled(t, append(others, p)...)
	return res
}

func has(list []string, suffix string) bool {
	return slices.ContainsFunc(list, func(s string) bool { return strings.HasSuffix(s, suffix) })
}

// TestThreePods is the README scenario: C and B become friends from B,
// then A from A naming only B, which introduces A to C as well; a video
// added on C reaches A and B, and so do its update and removal.
func TestThreePods(t *testing.T) {
	t.Parallel()
	a, b, c := newTestPod(t, fastConfig(), true), newTestPod(t, fastConfig(), true), newTestPod(t, fastConfig(), true)
	old := c.video("before friendship")
	c.cat.publish(t, fedproto.EventAdd, old)
	bv := b.video("on b")
	b.cat.publish(t, fedproto.EventAdd, bv)

	makeFriends(t, b, c)
	res := makeFriends(t, a, b)
	if len(res.Friends) != 2 {
		t.Fatalf("A's friends after naming B: %+v", res.Friends)
	}
	for _, p := range []*testPod{a, b, c} {
		if n := len(p.friends()); n != 2 {
			t.Fatalf("%s has %d friends, want 2: %v", p.url, n, p.friends())
		}
	}
	settled(t, a, b, c) // C pages A's catalogue in the background
	// Catalogues were exchanged both ways at introduction.
	for _, p := range []*testPod{a, b} {
		if vids := p.cat.videos(t); !has(vids, old.ID+":before friendship") {
			t.Fatalf("%s lacks C's older video: %v", p.url, vids)
		}
	}
	if vids := c.cat.videos(t); !has(vids, bv.ID+":on b") {
		t.Fatalf("C lacks B's video: %v", vids)
	}

	v := c.video("Élan vital")
	c.cat.publish(t, fedproto.EventAdd, v)
	for _, p := range []*testPod{a, b} {
		testenv.Eventually(t, wait, p.url+" gets the new video", func() bool { return has(p.cat.videos(t), v.ID+":Élan vital") })
	}
	v.Name = "Renamed"
	c.cat.publish(t, fedproto.EventUpdate, v)
	for _, p := range []*testPod{a, b} {
		testenv.Eventually(t, wait, p.url+" gets the update", func() bool { return has(p.cat.videos(t), v.ID+":Renamed") })
	}
	c.cat.publish(t, fedproto.EventRemove, v)
	for _, p := range []*testPod{a, b} {
		testenv.Eventually(t, wait, p.url+" drops the removed video", func() bool { return !has(p.cat.videos(t), v.ID) })
	}
	testenv.Eventually(t, wait, "C's outboxes to drain", func() bool {
		for _, f := range c.friends() {
			if f.Pending != 0 {
				return false
			}
		}
		return true
	})
	for _, f := range c.friends() {
		if f.Status != StatusActive || f.Score != ScoreMax {
			t.Errorf("C's friend %s: status %s score %d", f.URL, f.Status, f.Score)
		}
	}
}

// TestDownReceiverGetsEverything: a friend that is down while events are
// queued receives every one of them, once and in order, when it is back;
// a sender restarted meanwhile keeps its queue.
func TestDownReceiverGetsEverything(t *testing.T) {
	t.Parallel()
	a, b := newTestPod(t, fastConfig(), true), newTestPod(t, fastConfig(), true)
	makeFriends(t, a, b)
	b.down.Store(true)
	var ids []string
	for i := range 30 {
		v := a.video("clip")
		ids = append(ids, v.ID)
		a.cat.publish(t, fedproto.EventAdd, v)
		if i%3 == 0 {
			v.Name = "clip renamed"
			a.cat.publish(t, fedproto.EventUpdate, v)
		}
	}
	a.cat.publish(t, fedproto.EventRemove, api.Video{ID: ids[0]})
	testenv.Eventually(t, wait, "a failed delivery", func() bool { return a.friends()[b.url].Status == StatusUnreachable })
	a.restart() // the queue is durable
	b.restart() // and so is what B applied
	if got := a.friends()[b.url].Pending; got != 41 {
		t.Fatalf("A holds %d events for B, want 41", got)
	}
	b.down.Store(false)
	testenv.Eventually(t, wait, "B to get all events", func() bool { return a.friends()[b.url].Pending == 0 })
	vids := b.cat.videos(t)
	if len(vids) != 29 || has(vids, ids[0]) {
		t.Fatalf("B has %d videos (want 29, without the removed one): %v", len(vids), vids)
	}
	for i, id := range ids[1:] {
		name := "clip"
		if (i+1)%3 == 0 {
			name = "clip renamed"
		}
		if !has(vids, id+":"+name) {
			t.Fatalf("B lacks %s:%s", id, name)
		}
	}
	if f := a.friends()[b.url]; f.Status != StatusActive {
		t.Fatalf("B after recovery: %+v", f)
	}
}

// TestRedeliveryIsIdempotent: the same events sent again (as after a lost
// answer) are recognised; a batch of only old events gets 409 with the
// sequence to forget up to.
func TestRedeliveryIsIdempotent(t *testing.T) {
	t.Parallel()
	a, b := newTestPod(t, fastConfig(), true), newTestPod(t, fastConfig(), true)
	makeFriends(t, a, b)
	v := a.video("once")
	batch := fedproto.Batch{Events: []fedproto.Event{{Origin: a.url, Seq: 100, Type: fedproto.EventAdd, Video: &v}}}
	body, _ := json.Marshal(batch)
	code, _, data := send(t, signedRequest(t, b.url, fedproto.PathEvents, a.url, a.key, body, time.Now()))
	var res fedproto.BatchResult
	if err := json.Unmarshal(data, &res); code != http.StatusOK || err != nil || res.Applied != 1 || res.LastSeq != 100 {
		t.Fatalf("first delivery: %d %s", code, data)
	}
	code, ae, data := send(t, signedRequest(t, b.url, fedproto.PathEvents, a.url, a.key, body, time.Now().Add(time.Second)))
	var ra replayAnswer
	_ = json.Unmarshal(data, &ra)
	if code != http.StatusConflict || ae.Error != ErrReplayedEvent.Code || ra.LastSeq != 100 {
		t.Fatalf("redelivery: %d %s", code, data)
	}
	v2 := a.video("second")
	batch.Events = append(batch.Events, fedproto.Event{Origin: a.url, Seq: 101, Type: fedproto.EventAdd, Video: &v2})
	body, _ = json.Marshal(batch)
	code, _, data = send(t, signedRequest(t, b.url, fedproto.PathEvents, a.url, a.key, body, time.Now().Add(2*time.Second)))
	if err := json.Unmarshal(data, &res); code != http.StatusOK || err != nil || res.Applied != 1 || res.Duplicates != 1 || res.LastSeq != 101 {
		t.Fatalf("mixed batch: %d %s", code, data)
	}
	if vids := b.cat.videos(t); len(vids) != 2 {
		t.Fatalf("B has %v", vids)
	}
}

// TestRefusals: every way a request can be wrong gets its status and
// code, and nothing is applied.
func TestRefusals(t *testing.T) {
	t.Parallel()
	a, b := newTestPod(t, fastConfig(), true), newTestPod(t, fastConfig(), true)
	makeFriends(t, a, b)
	stranger := testKey(t, true)
	v := a.video("forged")
	body, _ := json.Marshal(fedproto.Batch{Events: []fedproto.Event{{Origin: a.url, Seq: 500, Type: fedproto.EventAdd, Video: &v}}})
	now := time.Now()
	replayed := signedRequest(t, b.url, fedproto.PathEvents, a.url, a.key, []byte(`{"events":[]}`), now)
	if code, _, data := send(t, replayed); code != http.StatusOK {
		t.Fatalf("heartbeat: %d %s", code, data)
	}
	cases := []struct {
		name   string
		req    func() *http.Request
		status int
		code   string
	}{
		{"forged signature", func() *http.Request {
			return signedRequest(t, b.url, fedproto.PathEvents, a.url, stranger, body, now)
		}, 401, "bad_signature"},
		{"tampered body", func() *http.Request {
			r := signedRequest(t, b.url, fedproto.PathEvents, a.url, a.key, body, now)
			tampered := strings.Replace(string(body), "forged", "FORGED", 1)
			r.Body, r.ContentLength = http.NoBody, int64(len(tampered))
			r.Body = readCloser(tampered)
			return r
		}, 401, "bad_digest"},
		{"digest of tampered body", func() *http.Request {
			r := signedRequest(t, b.url, fedproto.PathEvents, a.url, a.key, body, now)
			tampered := strings.Replace(string(body), "forged", "FORGED", 1)
			r.Header.Set("Digest", fedproto.Digest([]byte(tampered)))
			r.Body, r.ContentLength = readCloser(tampered), int64(len(tampered))
			return r
		}, 401, "bad_signature"},
		{"old date", func() *http.Request {
			return signedRequest(t, b.url, fedproto.PathEvents, a.url, a.key, body, now.Add(-6*time.Minute))
		}, 401, "clock_skew"},
		{"future date", func() *http.Request {
			return signedRequest(t, b.url, fedproto.PathEvents, a.url, a.key, body, now.Add(6*time.Minute))
		}, 401, "clock_skew"},
		{"non-friend", func() *http.Request {
			return signedRequest(t, b.url, fedproto.PathEvents, "http://stranger.example", stranger, body, now)
		}, 403, "not_friend"},
		{"unsigned", func() *http.Request {
			r := signedRequest(t, b.url, fedproto.PathEvents, a.url, a.key, body, now)
			r.Header.Del("Signature")
			return r
		}, 401, "bad_signature"},
		{"digest not covered", func() *http.Request {
			r := signedRequest(t, b.url, fedproto.PathEvents, a.url, a.key, body, now)
			r.Header.Set("Signature", strings.Replace(r.Header.Get("Signature"), " digest", "", 1))
			return r
		}, 401, "bad_signature"},
		{"signed for another pod", func() *http.Request {
			r := signedRequest(t, a.url, fedproto.PathEvents, a.url, a.key, body, now)
			r.URL.Host = strings.TrimPrefix(b.url, "http://")
			r.Host = strings.TrimPrefix(a.url, "http://")
			return r
		}, 401, "wrong_host"},
		{"replayed request", func() *http.Request {
			r := signedRequest(t, b.url, fedproto.PathEvents, a.url, a.key, nil, now)
			r.Header = replayed.Header.Clone()
			r.Body, r.ContentLength = readCloser(`{"events":[]}`), 13
			return r
		}, 401, "replayed_request"},
		{"foreign event", func() *http.Request {
			w := v
			w.TorrentURL = "http://evil.example/x.torrent"
			bad, _ := json.Marshal(fedproto.Batch{Events: []fedproto.Event{{Origin: a.url, Seq: 501, Type: fedproto.EventAdd, Video: &w}}})
			return signedRequest(t, b.url, fedproto.PathEvents, a.url, a.key, bad, now)
		}, 200, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, ae, data := send(t, tc.req())
			if code != tc.status || ae.Error != tc.code {
				t.Fatalf("got %d %s, want %d %s", code, data, tc.status, tc.code)
			}
		})
	}
	if vids := b.cat.videos(t); len(vids) != 0 {
		t.Fatalf("B applied something: %v", vids)
	}
	if f := b.friends()[a.url]; f.Score != ScoreInitial-fastConfig().withDefaults().Penalty {
		t.Fatalf("A's score on B after one invalid event: %d", f.Score)
	}
}

func (c Config) withDefaults() Config {
	c.SelfURL = "http://x.example"
	_ = c.defaults()
	return c
}

func readCloser(s string) *stringReadCloser { return &stringReadCloser{strings.NewReader(s)} }

type stringReadCloser struct{ *strings.Reader }

func (stringReadCloser) Close() error { return nil }

// TestRateLimit: a friend flooding gets 429 while another is served.
func TestRateLimit(t *testing.T) {
	t.Parallel()
	cfg := fastConfig()
	cfg.Rate, cfg.Burst = rate.Limit(1), 5
	b := newTestPod(t, cfg, true)
	a, c := newTestPod(t, fastConfig(), true), newTestPod(t, fastConfig(), true)
	makeFriends(t, a, b)
	makeFriends(t, c, b)
	limited := 0
	start := time.Now()
	for i := range 30 {
		body := []byte(`{"nonce":"` + fedproto.NewNonce() + `","events":[]}`)
		code, ae, _ := send(t, signedRequest(t, b.url, fedproto.PathEvents, a.url, a.key, body, start.Add(time.Duration(i)*time.Millisecond)))
		if code == http.StatusTooManyRequests {
			if ae.Error != "rate_limited" {
				t.Fatalf("429 with code %q", ae.Error)
			}
			limited++
		}
	}
	if limited < 20 {
		t.Fatalf("only %d of 30 flooding requests were limited", limited)
	}
	code, _, data := send(t, signedRequest(t, b.url, fedproto.PathEvents, c.url, c.key, []byte(`{"events":[]}`), time.Now()))
	if code != http.StatusOK {
		t.Fatalf("the other friend was refused: %d %s", code, data)
	}
}

// TestEjection: a friend down past the threshold is ejected, its videos
// dropped, and the other friends told.
func TestEjection(t *testing.T) {
	t.Parallel()
	cfg := fastConfig()
	cfg.ScoreMin, cfg.Penalty, cfg.HealthInterval = 90, 2, 30*time.Millisecond
	a, b, c := newTestPod(t, cfg, true), newTestPod(t, fastConfig(), true), newTestPod(t, fastConfig(), true)
	b.cat.publish(t, fedproto.EventAdd, b.video("b's"))
	makeFriends(t, c, b)
	makeFriends(t, a, b) // and C through B
	if vids := a.cat.videos(t); len(vids) != 1 {
		t.Fatalf("A has %v", vids)
	}
	b.down.Store(true)
	testenv.Eventually(t, wait, "A to eject B", func() bool { return a.friends()[b.url].Status == StatusEjected })
	if vids := a.cat.videos(t); len(vids) != 0 {
		t.Fatalf("A kept the ejected pod's videos: %v", vids)
	}
	if _, ok := a.friends()[c.url]; !ok || a.friends()[c.url].Status != StatusActive {
		t.Fatalf("A lost C: %+v", a.friends())
	}
	testenv.Eventually(t, wait, "C to hear of it", func() bool { return c.friends()[b.url].Score <= ScoreInitial-10 })
}

// TestQuit: quitting tells friends, which drop this pod and its videos.
func TestQuit(t *testing.T) {
	t.Parallel()
	a, b := newTestPod(t, fastConfig(), true), newTestPod(t, fastConfig(), true)
	a.cat.publish(t, fedproto.EventAdd, a.video("a's"))
	b.cat.publish(t, fedproto.EventAdd, b.video("b's"))
	makeFriends(t, a, b)
	if len(b.cat.videos(t)) != 2 {
		t.Fatalf("B has %v", b.cat.videos(t))
	}
	if err := a.fed.QuitFriends(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(a.friends()) != 0 || len(b.friends()) != 0 {
		t.Fatalf("friends left: A %v, B %v", a.friends(), b.friends())
	}
	if vids := b.cat.videos(t); len(vids) != 1 {
		t.Fatalf("B kept A's video: %v", vids)
	}
	if vids := a.cat.videos(t); len(vids) != 1 {
		t.Fatalf("A kept B's video: %v", vids)
	}
}

// TestMakeFriendsErrors: no common API version, an unreachable pod, this
// pod itself, and a bad URL each fail with a clear reason.
func TestMakeFriendsErrors(t *testing.T) {
	t.Parallel()
	a := newTestPod(t, fastConfig(), true)
	v2 := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		httpx.WriteJSON(w, http.StatusOK, api.PodInfo{Name: "future", URL: "http://" + r.Host, APIVersions: []string{"v2"}, PublicKey: a.fed.Self().PublicKey})
	}))
	t.Cleanup(v2.Close)
	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close()
	cases := []struct{ pod, want string }{
		{v2.URL, "no common API version"},
		{dead.URL, "cannot read its pod info"},
		{a.url, "that is this pod"},
		{"ftp://x", "not a pod URL"},
	}
	for _, tc := range cases {
		t.Run(tc.want, func(t *testing.T) {
			res, err := a.fed.MakeFriends(context.Background(), []string{tc.pod})
			if err == nil || !strings.Contains(res.Errors[tc.pod], tc.want) {
				t.Fatalf("MakeFriends(%s) = %v, errors %v; want %q", tc.pod, err, res.Errors, tc.want)
			}
			// Reasons are for people: no dial errors (issue 17.7).
			if why := res.Errors[tc.pod]; strings.Contains(why, "dial tcp") || strings.Contains(why, "connect:") || strings.Contains(why, "fedproto") {
				t.Errorf("reason shows internals: %q", why)
			}
		})
	}
	if len(a.friends()) != 0 {
		t.Fatalf("a failed introduction left a friend: %v", a.friends())
	}
}

// TestHelloImpersonation: an introduction signed with a key the claimed
// URL does not publish is refused.
func TestHelloImpersonation(t *testing.T) {
	t.Parallel()
	a, b := newTestPod(t, fastConfig(), true), newTestPod(t, fastConfig(), true)
	mallory := testKey(t, true)
	ref := a.fed.Self()
	ref.PublicKey = pemOf(t, mallory)
	body, _ := json.Marshal(fedproto.Hello{Pod: ref})
	code, ae, data := send(t, signedRequest(t, b.url, fedproto.PathHello, a.url, mallory, body, time.Now()))
	if code != http.StatusForbidden || ae.Error != ErrKeyUnconfirmed.Code {
		t.Fatalf("impersonation: %d %s", code, data)
	}
	if len(b.friends()) != 0 {
		t.Fatal("impersonator became a friend")
	}
}

// TestHeartbeatFollowsTheClock: a friend with nothing to send is still
// contacted once HealthInterval has passed on the pod's clock (Config.Now),
// not on the wall clock: an hour passes without the test waiting for it.
func TestHeartbeatFollowsTheClock(t *testing.T) {
	t.Parallel()
	var offset atomic.Int64 // nanoseconds added to the wall clock
	cfg := fastConfig()
	cfg.Now = func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
	a, b := newTestPod(t, cfg, true), newTestPod(t, cfg, true) // one clock, so B accepts A's Date
	makeFriends(t, a, b)
	testenv.Eventually(t, wait, "A to settle with B", func() bool {
		f := a.friends()[b.url]
		return f.Status == StatusActive && f.Pending == 0
	})
	// Each round moves the clock another HealthInterval on, then gives A
	// 2 s to send B a heartbeat dated on the moved clock. A second round
	// is needed when A was still recording an earlier attempt as the clock
	// moved (that attempt's time, already moved, starts the interval).
	testenv.Eventually(t, 30*time.Second, "A's heartbeat to B an hour later on its clock", func() bool {
		moved := time.Now().Add(time.Duration(offset.Add(int64(cfg.HealthInterval)))).Truncate(time.Second) // Date has whole seconds
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		return testenv.Poll(ctx, func() bool { return !time.Unix(b.lastEvents.Load(), 0).Before(moved) })
	})
}

// TestSeeds: pods named at start (--friends) are befriended by Run, even
// when they come up later.
func TestSeeds(t *testing.T) {
	t.Parallel()
	b := newTestPod(t, fastConfig(), true)
	b.down.Store(true) // not up yet
	cfg := fastConfig()
	cfg.Seeds = []string{b.url}
	a := newTestPod(t, cfg, true)
	testenv.Eventually(t, wait, "A to try its seed while it is down", func() bool { return b.failed.Load() > 0 })
	b.down.Store(false)
	testenv.Eventually(t, wait, "A to befriend its seed", func() bool { return a.friends()[b.url].Status == StatusActive })
	if _, ok := b.friends()[a.url]; !ok {
		t.Fatalf("B does not know A: %v", b.friends())
	}
}

// signWithDigest signs r (body already set) as SignRequest does, but with
// the given Digest header value, as other federated software sends it.
func signWithDigest(t *testing.T, r *http.Request, digest, keyID string, key *rsa.PrivateKey) {
	t.Helper()
	r.Header.Set("Digest", digest)
	if err := SignRequest(r, nil, keyID, key, time.Now()); err != nil {
		t.Fatal(err)
	}
}

// TestDigestList (issue 14, bug C): a signed request whose Digest lists
// SHA-256 and SHA-512 is accepted when SHA-256 matches, and refused when
// SHA-256 does not match even though another algorithm is listed.
func TestDigestList(t *testing.T) {
	t.Parallel()
	a, b := newTestPod(t, fastConfig(), true), newTestPod(t, fastConfig(), true)
	makeFriends(t, a, b)
	sum512 := sha512.Sum512([]byte("anything"))
	other := "SHA-512=" + base64.StdEncoding.EncodeToString(sum512[:])
	for _, tc := range []struct {
		name   string
		digest func(body []byte) string
		status int
	}{
		{"sha-256 and sha-512", func(body []byte) string { return fedproto.Digest(body) + ", " + other }, http.StatusOK},
		{"sha-512 first", func(body []byte) string { return other + "," + fedproto.Digest(body) }, http.StatusOK},
		{"wrong sha-256 beside sha-512", func(body []byte) string { return fedproto.Digest([]byte("x")) + ", " + other }, http.StatusUnauthorized},
		{"sha-512 only", func([]byte) string { return other }, http.StatusUnauthorized},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := []byte(`{"nonce":"` + fedproto.NewNonce() + `","events":[]}`)
			r, err := http.NewRequest(http.MethodPost, b.url+fedproto.PathEvents, bytes.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			signWithDigest(t, r, tc.digest(body), a.url, a.key)
			code, ae, data := send(t, r)
			if code != tc.status || code != http.StatusOK && ae.Error != ErrBadDigest.Code {
				t.Fatalf("got %d %s, want %d", code, data, tc.status)
			}
		})
	}
}
