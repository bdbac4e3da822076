package integration

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/swarmtube/swarmtube/internal/testenv"
	"github.com/swarmtube/swarmtube/server/api"
	"github.com/swarmtube/swarmtube/server/federation"
	"github.com/swarmtube/swarmtube/server/federation/fedproto"
)

const wait = 20 * time.Second

// fast makes failed deliveries retry and heartbeats run within a second,
// and limits each friend to a few requests a second so a flood shows. The
// pods accept every introduction and reach each other on loopback, as
// scripts/run_servers.sh's pods do.
var fast = []string{"--friend-retry-max", "300ms", "--friend-check-interval", "1s",
	"--federation-rate", "5", "--federation-burst", "20",
	"--federation-accept", "open", "--federation-allow-private"}

// TestFederation runs the README scenario on three real pods, then
// removal, refused requests, a flood, and a pod killed with SIGKILL that
// must receive every event it missed.
func TestFederation(t *testing.T) {
	a, b, c := startPod(t, "pod1", fast...), startPod(t, "pod2", fast...), startPod(t, "pod3", fast...)
	requireFederation(t, a)
	data := clip(t)

	var onC api.Video
	t.Run("scenario", func(t *testing.T) {
		b.makeFriends(c)
		res := a.makeFriends(b) // C is learnt from B
		if len(res.Friends) != 2 {
			t.Fatalf("pod1's friends: %+v", res.Friends)
		}
		for _, p := range []*pod{a, b, c} {
			if fs := p.friends(); len(fs) != 2 {
				t.Fatalf("%s has friends %+v", p.name, fs)
			}
		}
		onC = c.upload("Élan vital on pod3", data)
		for _, p := range []*pod{a, b} {
			testenv.Eventually(t, wait, p.name+" to list pod3's video", func() bool {
				return slices.Contains(names(p.videos())[c.url], "Élan vital on pod3")
			})
			found := p.search("elan POD3")
			if len(found) != 1 || found[0].Pod != c.url || found[0].InfoHash != onC.InfoHash ||
				!strings.HasPrefix(found[0].TorrentURL, c.url+"/") || !strings.HasPrefix(found[0].WebseedURL, c.url+"/") {
				t.Fatalf("search on %s: %+v", p.name, found)
			}
		}
	})

	t.Run("refusals", func(t *testing.T) {
		stranger, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		aKey := a.key()
		body := []byte(`{"nonce":"x1","events":[]}`)
		now := time.Now()
		cases := []struct {
			name   string
			req    *http.Request
			status int
			code   string
		}{
			{"forged signature", signed(t, b, a.url, stranger, body, now), 401, "bad_signature"},
			{"tampered body", tamper(signed(t, b, a.url, aKey, body, now), `{"nonce":"x2","events":[]}`), 401, "bad_digest"},
			{"old date", signed(t, b, a.url, aKey, body, now.Add(-10*time.Minute)), 401, "clock_skew"},
			{"non-friend", signed(t, b, "http://127.0.0.1:1", stranger, body, now), 403, "not_friend"},
		}
		for _, tc := range cases {
			code, ae := send(t, tc.req)
			if code != tc.status || ae.Error != tc.code {
				t.Errorf("%s: got %d %+v, want %d %s", tc.name, code, ae, tc.status, tc.code)
			}
		}
		replay := signed(t, b, a.url, aKey, []byte(`{"nonce":"x3","events":[]}`), now)
		again := replay.Clone(replay.Context())
		again.Body = io.NopCloser(strings.NewReader(`{"nonce":"x3","events":[]}`))
		if code, ae := send(t, replay); code != http.StatusOK {
			t.Fatalf("genuine request: %d %+v", code, ae)
		}
		if code, ae := send(t, again); code != http.StatusUnauthorized || ae.Error != "replayed_request" {
			t.Fatalf("replayed request: %d %+v", code, ae)
		}
	})

	t.Run("flood", func(t *testing.T) {
		aKey, cKey := a.key(), c.key()
		var wg sync.WaitGroup
		var mu sync.Mutex
		limited := 0
		for i := range 60 {
			wg.Go(func() {
				code, _ := send(t, signed(t, b, a.url, aKey, []byte(`{"nonce":"flood`+itoa(i)+`","events":[]}`), time.Now()))
				if code == http.StatusTooManyRequests {
					mu.Lock()
					limited++
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if limited < 30 {
			t.Fatalf("only %d of 60 flooding requests got 429", limited)
		}
		if code, ae := send(t, signed(t, b, c.url, cKey, []byte(`{"nonce":"calm","events":[]}`), time.Now())); code != http.StatusOK {
			t.Fatalf("pod3 refused during pod1's flood: %d %+v", code, ae)
		}
	})

	t.Run("removal", func(t *testing.T) {
		c.remove(onC.ID)
		for _, p := range []*pod{a, b} {
			testenv.Eventually(t, wait, p.name+" to drop the removed video", func() bool { return len(names(p.videos())[c.url]) == 0 })
		}
	})

	t.Run("sigkill", func(t *testing.T) {
		kept := a.upload("kept on pod1", data)
		gone := a.upload("removed while pod3 is down", data)
		testenv.Eventually(t, wait, "pod3 to get pod1's videos", func() bool { return len(names(c.videos())[a.url]) == 2 })
		c.kill()
		var added []string
		for i := range 4 {
			added = append(added, a.upload("added while pod3 is down "+itoa(i), data).Name)
		}
		a.remove(gone.ID)
		testenv.Eventually(t, wait, "pod1 to queue for the dead pod3 and call it unreachable", func() bool {
			f := a.friends()[c.url]
			return f.Pending > 0 && f.Status == "unreachable"
		})
		c.start()
		want := append([]string{kept.Name}, added...)
		slices.Sort(want)
		testenv.Eventually(t, wait, "pod3 to get every missed event", func() bool {
			got := names(c.videos())[a.url]
			slices.Sort(got)
			return slices.Equal(got, want)
		})
		testenv.Eventually(t, wait, "pod1's queue to pod3 to drain", func() bool { return a.friends()[c.url].Pending == 0 })
		// pod1's queue is empty only once pod3 acknowledged every event
		// it committed, so nothing more can arrive.
		got := names(c.videos())[a.url]
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Fatalf("pod3 lists %v, want %v", got, want)
		}
	})
}

// TestEjection: a pod that stays down past the threshold is ejected and
// its videos dropped.
func TestEjection(t *testing.T) {
	flags := append([]string{"--friend-score-min", "94"}, fast...)
	a, b := startPod(t, "pod1", flags...), startPod(t, "pod2", flags...)
	requireFederation(t, a)
	b.upload("on pod2", clip(t))
	a.makeFriends(b)
	if len(names(a.videos())[b.url]) != 1 {
		t.Fatalf("pod1 lacks pod2's video: %+v", a.videos())
	}
	b.kill()
	testenv.Eventually(t, wait, "pod1 to eject pod2", func() bool { return a.friends()[b.url].Status == "ejected" })
	if n := len(names(a.videos())[b.url]); n != 0 {
		t.Fatalf("pod1 kept %d videos of the ejected pod", n)
	}
}

// signed builds an events request to p signed as keyID with key.
func signed(t *testing.T, p *pod, keyID string, key *rsa.PrivateKey, body []byte, at time.Time) *http.Request {
	t.Helper()
	r, err := http.NewRequest(http.MethodPost, p.url+fedproto.PathEvents, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	r.Header.Set("Content-Type", "application/json")
	if err := federation.SignRequest(r, body, keyID, key, at); err != nil {
		t.Fatal(err)
	}
	return r
}

func tamper(r *http.Request, body string) *http.Request {
	r.Body, r.ContentLength = io.NopCloser(strings.NewReader(body)), int64(len(body))
	return r
}

func send(t *testing.T, r *http.Request) (int, api.Error) {
	t.Helper()
	resp, err := client.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var ae api.Error
	data, _ := io.ReadAll(resp.Body)
	_ = json.Unmarshal(data, &ae)
	return resp.StatusCode, ae
}
