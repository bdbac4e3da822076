package videos

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	bolt "go.etcd.io/bbolt"

	"github.com/swarmtube/swarmtube/internal/testenv"
	"github.com/swarmtube/swarmtube/server/accounts"
	"github.com/swarmtube/swarmtube/server/api"
	"github.com/swarmtube/swarmtube/server/ffmpeg"
	"github.com/swarmtube/swarmtube/server/httpx"
	"github.com/swarmtube/swarmtube/server/store"
)

// fakeSeeder records what the service asks of a seeder.
type fakeSeeder struct {
	mu      sync.Mutex
	seeded  map[[20]byte]string // info hash → file path
	removed [][20]byte
	calls   int
}

func (f *fakeSeeder) Seed(_ context.Context, tb []byte, path string) error {
	ih, err := infoHashOf(tb)
	if err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.seeded == nil {
		f.seeded = map[[20]byte]string{}
	}
	f.seeded[ih] = path
	f.calls++
	return nil
}

func (f *fakeSeeder) Remove(ih [20]byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.seeded, ih)
	f.removed = append(f.removed, ih)
	return nil
}

func (f *fakeSeeder) path(ih [20]byte) (string, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	p, ok := f.seeded[ih]
	return p, ok
}

// event is one federation event seen by fakeOutbox.
type event struct {
	kind string
	v    api.Video
}

// fakeOutbox records events, committed with their transaction.
type fakeOutbox struct {
	mu     sync.Mutex
	events []event
	fail   error
}

func (o *fakeOutbox) EnqueueTx(tx *bolt.Tx, kind string, v api.Video) error {
	if o.fail != nil {
		return o.fail
	}
	tx.OnCommit(func() {
		o.mu.Lock()
		defer o.mu.Unlock()
		o.events = append(o.events, event{kind, v})
	})
	return nil
}

func (o *fakeOutbox) all() []event {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]event(nil), o.events...)
}

// pod is a test pod: store, accounts, the video service and an HTTP server
// with the production middleware chain.
type pod struct {
	t       *testing.T
	dir     string
	st      *store.Store
	acc     *accounts.Service
	svc     *Service
	seeder  *fakeSeeder
	outbox  *fakeOutbox
	srv     *httptest.Server
	tokens  map[string]string // username → bearer token
	maxSize int64
	tune    func(*Config) // changes the service's config at every open
	tools   ffmpeg.Tools  // found in PATH unless withoutFFmpeg
	limit   time.Duration // TranscodeTimeLimit
	stop    func()        // stops run
	addr    string        // the HTTP address, kept across restarts
	window  time.Duration // httpx.MinBodyRate's window; 0: none
}

const testPassword = "correct horse battery"

type podOption func(*pod)

func withMaxSize(n int64) podOption { return func(p *pod) { p.maxSize = n } }

// withConfig changes the video service's config (quotas, free space).
// Options compose: each runs after the ones before it.
func withConfig(f func(*Config)) podOption {
	return func(p *pod) {
		prev := p.tune
		p.tune = func(c *Config) {
			if prev != nil {
				prev(c)
			}
			f(c)
		}
	}
}

// withDir puts the pod's data in dir (a small file system, for a full disk).
func withDir(dir string) podOption { return func(p *pod) { p.dir = dir } }

// withBodyRate puts httpx.MinBodyRate in the chain, as the pod does, with
// this window and httpx.MinBodyBytes.
func withBodyRate(window time.Duration) podOption { return func(p *pod) { p.window = window } }

// withoutFFmpeg starts the pod as if ffmpeg were not installed.
func withoutFFmpeg() podOption { return func(p *pod) { p.tools = ffmpeg.Tools{} } }

func newPod(t *testing.T, opts ...podOption) *pod {
	t.Helper()
	p := &pod{t: t, dir: t.TempDir(), seeder: &fakeSeeder{}, outbox: &fakeOutbox{}, tokens: map[string]string{}, maxSize: 64 << 20, tools: ffmpeg.Find()}
	for _, o := range opts {
		o(p)
	}
	p.open(p.seeder)
	for _, u := range []struct {
		name   string
		rights []string
	}{{"alice", []string{api.RightUpload}}, {"bob", []string{api.RightUpload}}, {"carol", nil}} {
		if _, err := p.acc.Register(context.Background(), u.name, testPassword, u.rights); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := p.acc.EnsureAdmin(context.Background(), testPassword); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"alice", "bob", "carol", accounts.AdminUsername} {
		tok, err := p.acc.Login(context.Background(), name, testPassword)
		if err != nil {
			t.Fatal(err)
		}
		p.tokens[name] = tok.Token
	}
	return p
}

// open (re)opens the store and services on p.dir.
func (p *pod) open(seeder Seeder) {
	t := p.t
	t.Helper()
	log := slog.New(slog.DiscardHandler)
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	var err error
	if p.st, err = store.Open(filepath.Join(p.dir, "pod.db")); err != nil {
		t.Fatal(err)
	}
	if p.acc, err = accounts.New(p.st, accounts.Config{ArgonMemoryKiB: 64, ArgonTime: 1}, log); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	p.srv = httptest.NewUnstartedServer(nil)
	if p.addr == "" {
		p.addr = p.srv.Listener.Addr().String()
	} else { // a restart: same address, so the stored URLs stay right
		p.srv.Listener.Close()
		if p.srv.Listener, err = net.Listen("tcp", p.addr); err != nil {
			t.Fatal(err)
		}
	}
	url := "http://" + p.addr
	cfg := Config{PodURL: url, DataDir: p.dir, MaxUploadBytes: p.maxSize, FFmpeg: p.tools, TranscodeTimeLimit: p.limit, Outbox: p.outbox}
	if p.tune != nil {
		p.tune(&cfg)
	}
	p.svc, err = New(cfg, p.st, seeder, log, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	p.acc.Routes(mux, log)
	p.svc.Routes(mux, log)
	chain := []httpx.Middleware{httpx.Recover(log), p.acc.Middleware(log)}
	if p.window > 0 {
		chain = []httpx.Middleware{httpx.Recover(log), httpx.MinBodyRate(p.window, httpx.MinBodyBytes), p.acc.Middleware(log)}
	}
	p.srv.Config.Handler = httpx.Chain(mux, chain...)
	p.srv.Start()
	t.Cleanup(p.close)
}

// run starts the service's Run (seeding, clean-up, transcoding workers)
// until the pod is closed.
func (p *pod) run() {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.svc.Run(ctx) }()
	p.stop = func() {
		cancel()
		if err := <-done; err != nil {
			p.t.Error(err)
		}
	}
}

func (p *pod) close() {
	if p.stop != nil {
		p.stop()
		p.stop = nil
	}
	if p.srv != nil {
		p.srv.Close()
		p.srv = nil
	}
	if p.st != nil {
		p.st.Close()
		p.st = nil
	}
}

// do sends a request as user ("" for anonymous) and returns the response
// with its body read.
func (p *pod) do(user, method, path string, body io.Reader, header map[string]string) (*http.Response, []byte) {
	p.t.Helper()
	req, err := http.NewRequest(method, p.srv.URL+path, body)
	if err != nil {
		p.t.Fatal(err)
	}
	if user != "" {
		req.Header.Set("Authorization", "Bearer "+p.tokens[user])
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		p.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		p.t.Fatal(err)
	}
	return resp, b
}

// multipartBody builds an upload form.
func multipartBody(t testing.TB, fields map[string]string, fileName string, file []byte) (io.Reader, string) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for k, v := range fields {
		if err := mw.WriteField(k, v); err != nil {
			t.Fatal(err)
		}
	}
	if file != nil {
		fw, err := mw.CreateFormFile("file", fileName)
		if err != nil {
			t.Fatal(err)
		}
		fw.Write(file)
	}
	mw.Close()
	return &buf, mw.FormDataContentType()
}

// upload posts a multipart upload as user and returns the status, the
// video (on 201) and the error code (otherwise).
func (p *pod) upload(user, name, description string, file []byte) (int, api.Video, string) {
	p.t.Helper()
	body, ct := multipartBody(p.t, map[string]string{"name": name, "description": description}, "clip.mp4", file)
	resp, b := p.do(user, "POST", "/api/v1/videos", body, map[string]string{"Content-Type": ct})
	var v api.Video
	if resp.StatusCode == http.StatusCreated || resp.StatusCode == http.StatusAccepted {
		if err := json.Unmarshal(b, &v); err != nil {
			p.t.Fatalf("decode video: %v: %s", err, b)
		}
		return resp.StatusCode, v, ""
	}
	var e api.Error
	if err := json.Unmarshal(b, &e); err != nil {
		p.t.Fatalf("status %d with a body that is not an API error: %s", resp.StatusCode, b)
	}
	return resp.StatusCode, v, e.Error
}

// getJSON fetches path as user and decodes a 200 answer into v.
func (p *pod) getJSON(user, path string, v any) int {
	p.t.Helper()
	resp, b := p.do(user, "GET", path, nil, nil)
	if resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(b, v); err != nil {
			p.t.Fatalf("decode %s: %v", path, err)
		}
	}
	return resp.StatusCode
}

// files lists the files in a data subdirectory.
func (p *pod) files(sub string) []string {
	p.t.Helper()
	entries, err := os.ReadDir(filepath.Join(p.dir, sub))
	if err != nil {
		p.t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}

// clips returns a 3 s 320x240 test clip with sound, with moov first and
// with moov last.
func clips(t testing.TB) (faststart, moovLast []byte) {
	t.Helper()
	c := testenv.Clip{Seconds: 3, Width: 320, Height: 240, Rate: 25, Audio: true}
	_, moovLast = testenv.MakeClip(t, c)
	c.Faststart = true
	_, faststart = testenv.MakeClip(t, c)
	return faststart, moovLast
}

func TestMain(m *testing.M) {
	testenv.VerifyNoLeaks(&cleanupM{m})
}

// cleanupM removes the benchmark data after the tests,
// before the leak check.
type cleanupM struct{ *testing.M }

func (c *cleanupM) Run() int {
	code := c.M.Run()
	benchCleanup()
	return code
}

// containsAll reports whether s contains every part.
func containsAll(s string, parts ...string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}

// clipsFFmpeg returns a generator of 1 s test clips encoded with args.
func clipsFFmpeg(t *testing.T) func(t *testing.T, ext string, args ...string) []byte {
	testenv.LookPath(t, "ffmpeg")
	return func(t *testing.T, ext string, args ...string) []byte {
		t.Helper()
		_, data := testenv.MakeClip(t, testenv.Clip{Ext: "." + ext, Args: args})
		return data
	}
}
