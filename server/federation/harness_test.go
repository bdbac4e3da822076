package federation

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/swarmtube/swarmtube/server/api"
	"github.com/swarmtube/swarmtube/server/federation/fedproto"
	"github.com/swarmtube/swarmtube/server/federation/outbox"
	"github.com/swarmtube/swarmtube/server/httpx"
	"github.com/swarmtube/swarmtube/server/identity"
	"github.com/swarmtube/swarmtube/server/store"
)

// keyPool hands out pre-generated RSA keys: generating one per test pod
// would dominate the test time.
var keyPool struct {
	sync.Mutex
	keys []*rsa.PrivateKey
	next int
}

func testKey(t testing.TB, distinct bool) *rsa.PrivateKey {
	t.Helper()
	keyPool.Lock()
	defer keyPool.Unlock()
	if !distinct && len(keyPool.keys) > 0 {
		k := keyPool.keys[keyPool.next%len(keyPool.keys)]
		keyPool.next++
		return k
	}
	k, err := rsa.GenerateKey(rand.Reader, identity.Bits)
	if err != nil {
		t.Fatal(err)
	}
	keyPool.keys = append(keyPool.keys, k)
	return k
}

// fakeCatalog keeps videos in a bbolt bucket, like server/videos, and
// validates friends' videos with fedproto.CheckVideo.
type fakeCatalog struct {
	st   *store.Store
	self string
	out  *outbox.Outbox
}

const bucketFake = "fake_videos"

func fakeKey(origin, id string) []byte { return []byte(origin + "\x00" + id) }

func (c *fakeCatalog) LocalVideosAfter(after string, n int) ([]api.Video, error) {
	out := []api.Video{}
	err := c.st.View(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte(bucketFake)).ForEach(func(k, v []byte) error {
			var vid api.Video
			if err := json.Unmarshal(v, &vid); err != nil {
				return err
			}
			if vid.Local && vid.ID > after {
				out = append(out, vid)
			}
			return nil
		})
	})
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out[:min(n, len(out))], err
}

func (c *fakeCatalog) HasRemoteTx(tx *bolt.Tx, origin, id string) bool {
	return tx.Bucket([]byte(bucketFake)).Get(fakeKey(origin, id)) != nil
}

func (c *fakeCatalog) PutRemoteTx(tx *bolt.Tx, origin string, v api.Video) error {
	if err := fedproto.CheckVideo(origin, v); err != nil {
		return err // wraps fedproto.ErrInvalid, as the Catalog contract asks
	}
	v.Pod, v.Local = origin, false
	return store.PutJSON(tx.Bucket([]byte(bucketFake)), fakeKey(origin, v.ID), v)
}

func (c *fakeCatalog) RemoveRemoteTx(tx *bolt.Tx, origin, id string) error {
	return tx.Bucket([]byte(bucketFake)).Delete(fakeKey(origin, id))
}

func (c *fakeCatalog) DropPodTx(tx *bolt.Tx, origin string) error {
	b := tx.Bucket([]byte(bucketFake))
	var keys [][]byte
	prefix := origin + "\x00"
	if err := b.ForEach(func(k, _ []byte) error {
		if len(k) > len(prefix) && string(k[:len(prefix)]) == prefix {
			keys = append(keys, append([]byte(nil), k...))
		}
		return nil
	}); err != nil {
		return err
	}
	for _, k := range keys {
		if err := b.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// publish adds, updates or removes a local video with its event in one
// transaction, as server/videos does.
func (c *fakeCatalog) publish(t testing.TB, kind string, v api.Video) {
	t.Helper()
	err := c.st.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(bucketFake))
		if kind == fedproto.EventRemove {
			if err := b.Delete(fakeKey(c.self, v.ID)); err != nil {
				return err
			}
		} else {
			v.Local, v.Pod = true, c.self
			if err := store.PutJSON(b, fakeKey(c.self, v.ID), v); err != nil {
				return err
			}
		}
		return c.out.EnqueueTx(tx, kind, v)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// videos lists every video the pod knows, sorted by origin and id, as
// "origin/id:name".
func (c *fakeCatalog) videos(t testing.TB) []string {
	t.Helper()
	var out []string
	err := c.st.View(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte(bucketFake)).ForEach(func(k, v []byte) error {
			var vid api.Video
			if err := json.Unmarshal(v, &vid); err != nil {
				return err
			}
			out = append(out, vid.Pod+"/"+vid.ID+":"+vid.Name)
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

// testPod is one in-process pod: its federation service behind an
// httptest server that also answers GET /api/v1/pod.
type testPod struct {
	t    testing.TB
	url  string
	dir  string
	key  *rsa.PrivateKey
	srv  *httptest.Server
	st   *store.Store
	fed  *Service
	cat  *fakeCatalog
	down atomic.Bool // answer 503 to everything, as a dead pod would fail
	// failed counts the requests answered 503 while down.
	failed atomic.Int64
	// lastEvents is the latest signed Date (Unix seconds) of a request to
	// PathEvents, stamped by the sender's Config.Now.
	lastEvents atomic.Int64
	mux        atomic.Pointer[http.ServeMux]
	stop       context.CancelFunc
	done       chan struct{}
	cfg        Config
}

// fastConfig retries quickly, accepts every introduction and lets pods
// on loopback reach each other (tests of consent and of the address guard
// set Accept and AllowPrivate themselves).
func fastConfig() Config {
	return Config{
		RetryMin: 20 * time.Millisecond, RetryMax: 100 * time.Millisecond,
		HealthInterval: time.Hour, RequestTimeout: 2 * time.Second, HelloTimeout: 5 * time.Second,
		Accept: AcceptOpen, AllowPrivate: true, ConfirmTimeout: 2 * time.Second,
	}
}

func newTestPod(t testing.TB, cfg Config, distinctKey bool) *testPod {
	t.Helper()
	p := &testPod{t: t, dir: t.TempDir(), cfg: cfg}
	p.key = testKey(t, distinctKey)
	der, err := x509.MarshalPKCS8PrivateKey(p.key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(p.dir, identity.FileName), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	p.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p.down.Load() {
			p.failed.Add(1)
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		if d, err := http.ParseTime(r.Header.Get("Date")); err == nil && r.URL.Path == fedproto.PathEvents {
			for old := p.lastEvents.Load(); d.Unix() > old && !p.lastEvents.CompareAndSwap(old, d.Unix()); old = p.lastEvents.Load() {
			}
		}
		p.mux.Load().ServeHTTP(w, r)
	}))
	p.url = "http://" + p.srv.Listener.Addr().String()
	p.srv.Start()
	t.Cleanup(p.srv.Close)
	p.open()
	t.Cleanup(p.close)
	return p
}

func handlerFor(fed *Service) *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/pod", func(w http.ResponseWriter, r *http.Request) {
		self := fed.Self()
		httpx.WriteJSON(w, http.StatusOK, api.PodInfo{Name: self.Name, URL: self.URL, APIVersions: self.APIVersions, PublicKey: self.PublicKey})
	})
	fed.Routes(mux, slog.New(slog.DiscardHandler))
	return mux
}

// open (re)opens the store and service and starts Run.
func (p *testPod) open() {
	t := p.t
	var err error
	if p.st, err = store.Open(filepath.Join(p.dir, "swarmtube.db")); err != nil {
		t.Fatal(err)
	}
	if err := p.st.Buckets(bucketFake); err != nil {
		t.Fatal(err)
	}
	id, err := identity.LoadOrCreate(p.dir)
	if err != nil {
		t.Fatal(err)
	}
	p.cat = &fakeCatalog{st: p.st, self: p.url}
	cfg := p.cfg
	cfg.SelfURL, cfg.Name = p.url, "pod "+p.url
	log := slog.New(slog.DiscardHandler)
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})).With("pod", p.url)
	}
	out, err := outbox.New(p.st, p.url)
	if err != nil {
		t.Fatal(err)
	}
	p.cat.out = out
	fed, err := New(cfg, p.st, id, p.cat, out, log, nil)
	if err != nil {
		t.Fatal(err)
	}
	p.fed = fed
	p.mux.Store(handlerFor(fed))
	ctx, cancel := context.WithCancel(context.Background())
	p.stop, p.done = cancel, make(chan struct{})
	go func() {
		defer close(p.done)
		if err := fed.Run(ctx); err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
}

// close stops Run and closes the store (idempotent).
func (p *testPod) close() {
	if p.stop == nil {
		return
	}
	p.stop()
	<-p.done
	p.stop = nil
	if err := p.st.Close(); err != nil {
		p.t.Errorf("close store: %v", err)
	}
}

func (p *testPod) restart() {
	p.close()
	p.open()
}

func (p *testPod) friends() map[string]api.Friend {
	p.t.Helper()
	fs, err := p.fed.Friends()
	if err != nil {
		p.t.Fatal(err)
	}
	m := map[string]api.Friend{}
	for _, f := range fs {
		m[f.URL] = f
	}
	return m
}

var videoSeq atomic.Int64

// video makes a valid local video of pod.
func (p *testPod) video(name string) api.Video {
	n := videoSeq.Add(1)
	id := fmt.Sprintf("vid%013d", n)
	id = toB32(id)
	ih := fmt.Sprintf("%040x", n)
	return api.Video{
		ID: id, Name: name, Size: 1000 + n, InfoHash: ih,
		Magnet:     "magnet:?xt=urn:btih:" + ih,
		TorrentURL: p.url + "/api/v1/videos/" + id + "/torrent",
		WebseedURL: p.url + "/static/webseed/" + id + ".mp4",
		Owner:      "alice", CreatedAt: time.Now().UTC(),
	}
}

// toB32 maps digits 0,1,8,9 to letters so ids are base32 a-z2-7.
func toB32(s string) string {
	b := []byte(s)
	for i, c := range b {
		switch c {
		case '0':
			b[i] = 'a'
		case '1':
			b[i] = 'b'
		case '8':
			b[i] = 'y'
		case '9':
			b[i] = 'z'
		}
	}
	return string(b)
}

// signedRequest builds a request to pod signed with key as keyID, by the
// pod's own signer (SignRequest).
func signedRequest(t testing.TB, pod, path, keyID string, key *rsa.PrivateKey, body []byte, at time.Time) *http.Request {
	t.Helper()
	r, err := http.NewRequest(http.MethodPost, pod+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	r.Header.Set("Content-Type", "application/json")
	if body == nil {
		body = []byte{} // signed with the Digest of nothing
	}
	if err := SignRequest(r, body, keyID, key, at); err != nil {
		t.Fatal(err)
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))
	return r
}

func send(t testing.TB, r *http.Request) (int, api.Error, []byte) {
	t.Helper()
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var ae api.Error
	_ = json.Unmarshal(data, &ae)
	if resp.StatusCode == http.StatusUnauthorized && resp.Header.Get("WWW-Authenticate") != SignatureChallenge {
		// RFC 9110 §11.6.1: a 401 says how to authenticate.
		t.Errorf("401 %s with WWW-Authenticate %q", ae.Error, resp.Header.Get("WWW-Authenticate"))
	}
	return resp.StatusCode, ae, data
}

func pemOf(t testing.TB, k *rsa.PrivateKey) string {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}
