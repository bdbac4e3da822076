package federation

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	bolt "go.etcd.io/bbolt"

	"github.com/swarmtube/swarmtube/internal/testenv"
	"github.com/swarmtube/swarmtube/server/api"
	"github.com/swarmtube/swarmtube/server/federation/fedproto"
	"github.com/swarmtube/swarmtube/server/httpx"
	"github.com/swarmtube/swarmtube/server/store"
)

func manualConfig() Config {
	c := fastConfig()
	c.Accept = AcceptManual
	return c
}

// settled waits until every friend of each pod is active (catalogues
// paged both ways).
func settled(t *testing.T, pods ...*testPod) {
	t.Helper()
	for _, p := range pods {
		testenv.Eventually(t, wait, p.url+"'s friends to be active", func() bool {
			for _, f := range p.friends() {
				if f.Status != StatusActive {
					return false
				}
			}
			return true
		})
	}
}

// TestConsent (issue 14, attack 1): an introduction to a pod with the
// manual policy makes no friend and moves no video until its admin
// accepts; then both are friends and catalogues and events flow.
func TestConsent(t *testing.T) {
	t.Parallel()
	a, b := newTestPod(t, fastConfig(), true), newTestPod(t, manualConfig(), true)
	a.cat.publish(t, fedproto.EventAdd, a.video("a's"))
	b.cat.publish(t, fedproto.EventAdd, b.video("b's"))
	res, err := a.fed.MakeFriends(context.Background(), []string{b.url})
	if err != nil || len(res.Errors) > 0 || len(res.Requested) != 1 || res.Requested[0] != b.url {
		t.Fatalf("MakeFriends: %v %+v", err, res)
	}
	if f := b.friends()[a.url]; f.Status != StatusPending {
		t.Fatalf("B lists A as %+v, want pending", f)
	}
	if f := a.friends()[b.url]; f.Status != StatusRequested {
		t.Fatalf("A lists B as %+v, want requested", f)
	}
	a.cat.publish(t, fedproto.EventAdd, a.video("a's second"))
	// A request is no friend: its signed requests are refused, and A
	// queues nothing for B.
	code, ae, _ := send(t, signedRequest(t, b.url, fedproto.PathEvents, a.url, a.key, []byte(`{"events":[]}`), time.Now()))
	if code != http.StatusForbidden || ae.Error != ErrNotFriend.Code {
		t.Fatalf("events from a pending pod: %d %+v", code, ae)
	}
	if n := a.friends()[b.url].Pending; n != 0 {
		t.Fatalf("A queued %d events for a pod that did not consent", n)
	}
	if len(b.cat.videos(t)) != 1 || len(a.cat.videos(t)) != 2 {
		t.Fatalf("videos moved without consent: A %v, B %v", a.cat.videos(t), b.cat.videos(t))
	}

	res, err = b.fed.Accept(context.Background(), []string{a.url})
	if err != nil || len(res.Errors) > 0 {
		t.Fatalf("Accept: %v %+v", err, res)
	}
	settled(t, a, b)
	if len(b.cat.videos(t)) != 3 || len(a.cat.videos(t)) != 3 {
		t.Fatalf("after consent: A %v, B %v", a.cat.videos(t), b.cat.videos(t))
	}
	v := a.video("after consent")
	a.cat.publish(t, fedproto.EventAdd, v)
	testenv.Eventually(t, wait, "B to get A's new video", func() bool { return has(b.cat.videos(t), v.ID+":after consent") })
}

// TestRefuse: a refused pod is told and forgets its request; its next
// introduction is refused until an admin accepts it after all.
func TestRefuse(t *testing.T) {
	t.Parallel()
	a, b := newTestPod(t, fastConfig(), true), newTestPod(t, manualConfig(), true)
	if res, err := a.fed.MakeFriends(context.Background(), []string{b.url}); err != nil || len(res.Requested) != 1 {
		t.Fatalf("MakeFriends: %v %+v", err, res)
	}
	if err := b.fed.Refuse(context.Background(), []string{a.url}); err != nil {
		t.Fatal(err)
	}
	if f := b.friends()[a.url]; f.Status != StatusRefused {
		t.Fatalf("B lists A as %+v", f)
	}
	testenv.Eventually(t, wait, "A to forget its request", func() bool { _, ok := a.friends()[b.url]; return !ok })
	res, err := a.fed.MakeFriends(context.Background(), []string{b.url})
	if err == nil || !strings.Contains(res.Errors[b.url], ErrRefused.Code) {
		t.Fatalf("introduction after a refusal: %v %+v", err, res)
	}
	if err := b.fed.Refuse(context.Background(), []string{"http://never.example"}); err == nil {
		t.Fatal("refusing an unknown pod succeeded")
	}
	if _, err := b.fed.Accept(context.Background(), []string{a.url}); err != nil {
		t.Fatalf("accepting a refused pod: %v", err)
	}
	settled(t, a, b)
	if a.friends()[b.url].Status != StatusActive || b.friends()[a.url].Status != StatusActive {
		t.Fatalf("A %v, B %v", a.friends(), b.friends())
	}
}

// TestAllowlist: pods on the allowlist are accepted at once, others wait.
func TestAllowlist(t *testing.T) {
	t.Parallel()
	a, b := newTestPod(t, fastConfig(), true), newTestPod(t, fastConfig(), true)
	cfg := fastConfig()
	cfg.Accept, cfg.Allowlist = AcceptAllowlist, []string{a.url + "/", "other.example"}
	c := newTestPod(t, cfg, true)
	if res := makeFriends(t, a, c); len(res.Requested) != 0 {
		t.Fatalf("allowlisted pod waits: %+v", res)
	}
	res, err := b.fed.MakeFriends(context.Background(), []string{c.url})
	if err != nil || len(res.Requested) != 1 {
		t.Fatalf("pod off the allowlist: %v %+v", err, res)
	}
	settled(t, a)
	if c.friends()[a.url].Status != StatusActive || c.friends()[b.url].Status != StatusPending {
		t.Fatalf("C lists %+v", c.friends())
	}
	for _, tc := range []struct {
		pod  string
		want bool
	}{
		{a.url, true}, {"http://other.example", true}, {"https://pod.other.example:8443", true},
		{"http://notother.example", false}, {"http://other.example.evil", false}, {b.url, false},
	} {
		if got := c.fed.allowlisted(tc.pod); got != tc.want {
			t.Errorf("allowlisted(%s) = %v", tc.pod, got)
		}
	}
}

// TestFriendLimit: beyond MaxFriends, neither side adds a friend.
func TestFriendLimit(t *testing.T) {
	t.Parallel()
	cfg := fastConfig()
	cfg.MaxFriends = 1
	a := newTestPod(t, cfg, true)
	b, c, d := newTestPod(t, fastConfig(), true), newTestPod(t, fastConfig(), true), newTestPod(t, fastConfig(), true)
	makeFriends(t, a, b)
	res, err := a.fed.MakeFriends(context.Background(), []string{c.url})
	if err == nil || !strings.Contains(res.Errors[c.url], "already has 1 friends") {
		t.Fatalf("second friend: %v %+v", err, res)
	}
	res, err = d.fed.MakeFriends(context.Background(), []string{a.url})
	if err == nil || !strings.Contains(res.Errors[a.url], ErrFriendLimit.Code) {
		t.Fatalf("introduction to a full pod: %v %+v", err, res)
	}
	if n := len(a.friends()); n != 1 {
		t.Fatalf("A has %d friends", n)
	}
}

// TestHelloBounded (issue 14, attack 3): a hello body is read only up to
// MaxHelloBody, before its key is known.
func TestHelloBounded(t *testing.T) {
	t.Parallel()
	b := newTestPod(t, fastConfig(), true)
	stranger := testKey(t, true)
	ref := fedproto.PodRef{URL: "http://127.0.0.1:1", Name: "big", APIVersions: []string{"v1"}, PublicKey: pemOf(t, stranger)}
	body, _ := json.Marshal(struct {
		fedproto.Hello
		Junk string `json:"junk"`
	}{fedproto.Hello{Pod: ref}, strings.Repeat("x", 4<<20)})
	code, ae, _ := send(t, signedRequest(t, b.url, fedproto.PathHello, ref.URL, stranger, body, time.Now()))
	if code != http.StatusRequestEntityTooLarge || ae.Error != "too_large" {
		t.Fatalf("4 MiB hello: %d %+v", code, ae)
	}
	if len(b.friends()) != 0 {
		t.Fatal("a friend from an oversized hello")
	}
}

func TestPublicAddr(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		ip   string
		want bool
	}{
		{"127.0.0.1", false}, {"127.9.9.9", false}, {"::1", false}, {"10.1.2.3", false}, {"172.16.0.1", false},
		{"192.168.1.1", false}, {"169.254.169.254", false}, {"fe80::1", false}, {"224.0.0.1", false},
		{"ff02::1", false}, {"0.0.0.0", false}, {"::", false}, {"100.64.0.1", false}, {"::ffff:127.0.0.1", false},
		{"::ffff:10.0.0.1", false}, {"64:ff9b::7f00:1", false}, {"fc00::1", false}, {"fd12:3456::1", false},
		{"255.255.255.255", false}, {"2002:7f00:1::", false}, {"0.1.2.3", false},
		{"8.8.8.8", true}, {"2001:4860:4860::8888", true}, {"93.184.216.34", true}, {"::ffff:8.8.8.8", true},
	} {
		if got := publicAddr(netip.MustParseAddr(tc.ip)); got != tc.want {
			t.Errorf("publicAddr(%s) = %v, want %v", tc.ip, got, tc.want)
		}
	}
}

// hello builds an introduction of pod (signed with a fresh key of its
// own) to target.
func hello(t *testing.T, target, pod string) *http.Request {
	t.Helper()
	k := testKey(t, false)
	body, _ := json.Marshal(fedproto.Hello{Nonce: fedproto.NewNonce(), Pod: fedproto.PodRef{URL: pod, Name: "probe", APIVersions: []string{"v1"}, PublicKey: pemOf(t, k)}})
	return signedRequest(t, target, fedproto.PathHello, pod, k, body, time.Now())
}

// probeTargets starts an open service (it answers pod info with another
// key and counts requests), a closed port and a hanging service.
func probeTargets(t *testing.T) (open, closed, hanging string, hits *atomic.Int64) {
	t.Helper()
	other := pemOf(t, testKey(t, false))
	return testenv.ProbeTargets(t, func(r *http.Request) any {
		return api.PodInfo{Name: "x", URL: "http://" + r.Host, APIVersions: []string{"v1"}, PublicKey: other}
	})
}

// TestNoSSRF (issue 14, attack 5): a hello naming an open, a closed and a
// hanging local service gets the same answer for each, after the same
// minimum delay; without --federation-allow-private the pod does not even
// connect, names that resolve to loopback included, and an admin's
// makefriends to such an address is refused with a plain reason.
func TestNoSSRF(t *testing.T) {
	t.Parallel()
	open, closed, hanging, hits := probeTargets(t)
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(open, "http://"))
	for _, guarded := range []bool{true, false} {
		t.Run(fmt.Sprintf("guarded=%v", guarded), func(t *testing.T) {
			cfg := fastConfig()
			cfg.AllowPrivate = !guarded
			cfg.ConfirmTimeout = time.Second
			b := newTestPod(t, cfg, true)
			hits.Store(0)
			targets := []string{open, closed, hanging}
			if guarded {
				targets = append(targets, "http://localhost:"+port)
			}
			type answer struct {
				code    int
				body    string
				elapsed time.Duration
			}
			answers := make([]answer, len(targets))
			var wg sync.WaitGroup
			for i, target := range targets {
				wg.Go(func() {
					start := time.Now()
					code, _, data := send(t, hello(t, b.url, target))
					answers[i] = answer{code, string(data), time.Since(start)}
				})
			}
			wg.Wait()
			for i, a := range answers {
				t.Logf("%s: %d %s in %s", targets[i], a.code, strings.TrimSpace(a.body), a.elapsed.Round(time.Millisecond))
				if a.code != answers[0].code || a.body != answers[0].body {
					t.Errorf("answers differ: %s gave %d %s, %s gave %d %s", targets[0], answers[0].code, answers[0].body, targets[i], a.code, a.body)
				}
				if a.elapsed < cfg.ConfirmTimeout {
					t.Errorf("%s answered after %s, before the %s every failure waits", targets[i], a.elapsed, cfg.ConfirmTimeout)
				}
			}
			var ae api.Error
			if json.Unmarshal([]byte(answers[0].body), &ae); answers[0].code != http.StatusForbidden || ae.Error != ErrKeyUnconfirmed.Code {
				t.Errorf("answer %d %s, want 403 %s", answers[0].code, answers[0].body, ErrKeyUnconfirmed.Code)
			}
			if guarded && hits.Load() != 0 {
				t.Errorf("the guarded pod reached the open service %d times", hits.Load())
			}
			if !guarded && hits.Load() == 0 {
				t.Error("the unguarded pod never fetched the open service (the test proves nothing)")
			}
			if len(b.friends()) != 0 {
				t.Errorf("friends from probes: %v", b.friends())
			}
			if guarded {
				res, err := b.fed.MakeFriends(context.Background(), []string{open})
				if err == nil || !strings.Contains(res.Errors[open], "not public") || hits.Load() != 0 {
					t.Errorf("makefriends to loopback: %v %+v (hits %d)", err, res, hits.Load())
				}
			}
		})
	}
}

// TestIntroductionsBounded (issue 14, attack 10): a friend whose answer
// names 1000 friends gets this pod to introduce itself to at most
// MaxIntroductions of them, all at once, each within IntroTimeout, and
// other admin requests go on meanwhile.
func TestIntroductionsBounded(t *testing.T) {
	t.Parallel()
	cfg := fastConfig()
	cfg.IntroTimeout = 3 * time.Second
	a := newTestPod(t, cfg, true)
	c := newTestPod(t, fastConfig(), true)
	var conns atomic.Int64
	var friends []string
	for range 25 { // the first MaxIntroductions are contacted
		friends = append(friends, testenv.HangingServer(t, &conns))
	}
	for len(friends) < 1000 {
		friends = append(friends, fmt.Sprintf("http://127.0.0.1:%d", 1+len(friends)))
	}
	fk := testKey(t, false)
	var fakeURL string
	fake := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ref := fedproto.PodRef{URL: fakeURL, Name: "braggart", APIVersions: []string{"v1"}, PublicKey: pemOf(t, fk)}
		switch r.URL.Path {
		case fedproto.PathPodInfo:
			httpx.WriteJSON(w, http.StatusOK, api.PodInfo{Name: ref.Name, URL: ref.URL, APIVersions: ref.APIVersions, PublicKey: ref.PublicKey})
		case fedproto.PathHello:
			httpx.WriteJSON(w, http.StatusOK, fedproto.HelloResult{Status: fedproto.HelloAccepted, Pod: ref, Friends: friends})
		case fedproto.PathCatalog:
			httpx.WriteJSON(w, http.StatusOK, fedproto.CatalogPage{Videos: []api.Video{}})
		default:
			httpx.WriteJSON(w, http.StatusOK, fedproto.BatchResult{})
		}
	}))
	t.Cleanup(fake.Close)
	fakeURL = fake.URL

	start := time.Now()
	done := make(chan api.MakeFriendsResult, 1)
	go func() {
		res, _ := a.fed.MakeFriends(context.Background(), []string{fake.URL})
		done <- res
	}()
	testenv.Eventually(t, wait, "the introductions to start", func() bool { return conns.Load() > 0 })
	// Admin requests are not blocked by the introductions under way.
	makeFriends(t, a, c)
	if _, err := a.fed.Friends(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
		t.Fatal("the introductions ended before the other admin request: the test proves nothing")
	default:
	}
	res := <-done
	elapsed := time.Since(start)
	var m dto.Metric
	if err := a.fed.metrics.introductions.WithLabelValues("failed").Write(&m); err != nil {
		t.Fatal(err)
	}
	failed := m.GetCounter().GetValue()
	t.Logf("1000 friends named: %d connections, %v failed introductions, %d errors, %s", conns.Load(), failed, len(res.Errors), elapsed.Round(time.Millisecond))
	if n := conns.Load(); n != int64(cfg.withDefaults().MaxIntroductions) {
		t.Errorf("%d introductions reached the named friends, want %d", n, cfg.withDefaults().MaxIntroductions)
	}
	if failed != float64(cfg.withDefaults().MaxIntroductions) {
		t.Errorf("%v failed introductions counted", failed)
	}
	// One after another they would take 20 × IntroTimeout.
	if elapsed > 4*cfg.IntroTimeout {
		t.Errorf("MakeFriends took %s: introductions are not concurrent", elapsed)
	}
}

// TestCatalogPaging: a catalogue larger than a page arrives whole; a
// friend's videos beyond MaxFriendVideos are not kept, by paging or by
// events.
func TestCatalogPaging(t *testing.T) {
	t.Parallel()
	a := newTestPod(t, fastConfig(), true)
	capped := fastConfig()
	capped.MaxFriendVideos = 600
	b, c := newTestPod(t, capped, true), newTestPod(t, fastConfig(), true)
	const n = 2*fedproto.MaxCatalogVideos + 100
	err := a.st.Update(func(tx *bolt.Tx) error {
		for i := range n {
			v := a.video(fmt.Sprintf("clip %d", i))
			v.Local, v.Pod = true, a.url
			if err := store.PutJSON(tx.Bucket([]byte(bucketFake)), fakeKey(a.url, v.ID), v); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	makeFriends(t, b, a)
	makeFriends(t, c, a)
	settled(t, a, b, c)
	if got := len(c.cat.videos(t)); got != n {
		t.Fatalf("C has %d of A's %d videos", got, n)
	}
	if got := len(b.cat.videos(t)); got != 600 || b.friends()[a.url].Videos != 600 {
		t.Fatalf("B keeps %d videos (counted %d), want its cap 600", got, b.friends()[a.url].Videos)
	}
	v := a.video("one more")
	a.cat.publish(t, fedproto.EventAdd, v)
	testenv.Eventually(t, wait, "C to get the new video", func() bool { return has(c.cat.videos(t), v.ID+":one more") })
	testenv.Eventually(t, wait, "A's queue to drain", func() bool { return a.friends()[b.url].Pending == 0 })
	if has(b.cat.videos(t), v.ID+":one more") {
		t.Fatal("B kept a video beyond its cap")
	}
}

// TestHelloAnswerShape: an accepted hello is 200 with the receiver's
// sequence and other friends; a request is 202.
func TestHelloAnswerShape(t *testing.T) {
	t.Parallel()
	a, b := newTestPod(t, fastConfig(), true), newTestPod(t, manualConfig(), true)
	body, _ := json.Marshal(fedproto.Hello{Nonce: fedproto.NewNonce(), Pod: a.fed.Self()})
	code, _, data := send(t, signedRequest(t, b.url, fedproto.PathHello, a.url, a.key, body, time.Now()))
	var hr fedproto.HelloResult
	if err := json.NewDecoder(bytes.NewReader(data)).Decode(&hr); code != http.StatusAccepted || err != nil || hr.Status != fedproto.HelloRequested {
		t.Fatalf("hello to a manual pod: %d %s", code, data)
	}
}

// TestConfirmRateLimited: the fetches a pod makes to confirm introductions
// it did not ask for are limited per source address (FetchBurst), before
// any connection.
func TestConfirmRateLimited(t *testing.T) {
	t.Parallel()
	cfg := fastConfig()
	cfg.FetchRate, cfg.FetchBurst, cfg.ConfirmTimeout = 0.001, 2, 100*time.Millisecond
	b := newTestPod(t, cfg, true)
	var hits atomic.Int64
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		http.NotFound(w, r)
	}))
	t.Cleanup(target.Close)
	var codes []int
	for range 4 {
		code, _, _ := send(t, hello(t, b.url, target.URL))
		codes = append(codes, code)
	}
	if fmt.Sprint(codes) != "[403 403 429 429]" || hits.Load() != 2 {
		t.Fatalf("answers %v, %d fetches; want [403 403 429 429] and 2", codes, hits.Load())
	}
}

// TestRequestsBounded: at most MaxRequests introductions wait for the
// admin; refusing them makes room again, and refusals are not kept
// beyond MaxRequests either.
func TestRequestsBounded(t *testing.T) {
	t.Parallel()
	cfg := manualConfig()
	cfg.MaxRequests = 2
	b := newTestPod(t, cfg, true)
	var askers []*testPod
	for range 4 {
		askers = append(askers, newTestPod(t, fastConfig(), false))
	}
	ask := func(a *testPod) string {
		res, err := a.fed.MakeFriends(context.Background(), []string{b.url})
		if err != nil {
			return res.Errors[b.url]
		}
		return strings.Join(res.Requested, ",")
	}
	for _, a := range askers[:2] {
		if got := ask(a); got != b.url {
			t.Fatalf("request: %q", got)
		}
	}
	if got := ask(askers[2]); !strings.Contains(got, ErrRequestsFull.Code) {
		t.Fatalf("third request while two wait: %q", got)
	}
	if err := b.fed.Refuse(context.Background(), []string{askers[0].url, askers[1].url}); err != nil {
		t.Fatal(err)
	}
	for _, a := range askers[2:] {
		if got := ask(a); got != b.url {
			t.Fatalf("request after refusals: %q", got)
		}
	}
	if err := b.fed.Refuse(context.Background(), []string{askers[2].url}); err != nil {
		t.Fatal(err)
	}
	statuses := map[string]int{}
	for _, f := range b.friends() {
		statuses[f.Status]++
	}
	if statuses[StatusRefused] != 2 || statuses[StatusPending] != 1 {
		t.Fatalf("B lists %v, want 2 refused (the oldest forgotten) and 1 pending", statuses)
	}
}
