package pod

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	pionturn "github.com/pion/turn/v2"
	bolt "go.etcd.io/bbolt"

	"github.com/swarmtube/swarmtube/internal/testenv"
	"github.com/swarmtube/swarmtube/server/api"
	"github.com/swarmtube/swarmtube/server/config"
)

// startInProcess runs a pod on a free port until the test ends.
func startInProcess(t *testing.T, args ...string) *Pod {
	t.Helper()
	p, stop := runPod(t, append([]string{"--listen", "127.0.0.1:0", "--data", t.TempDir(), "--turn-listen", "127.0.0.1:0"}, args...)...)
	t.Cleanup(stop)
	return p
}

// runPod starts a pod in-process with args (admin password
// "admin-password"; later flags win) and returns it once it answers, with
// stop, which ends it and reports its error. Tests that restart a pod on
// the same data dir call it once per life.
func runPod(t *testing.T, args ...string) (*Pod, func()) {
	t.Helper()
	cfg, err := config.Parse(append([]string{"--admin-password", "admin-password"}, args...), func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	p, err := New(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	stop := func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("pod run: %v", err)
		}
	}
	return p, stop
}

// uploadVideo uploads clip as a video named name, as the bearer of tok,
// through client (nil: http.DefaultClient), and fails the test unless the
// pod answers 201 with a video.
func uploadVideo(t *testing.T, client *http.Client, base, tok, name string, clip []byte) api.Video {
	t.Helper()
	if client == nil {
		client = http.DefaultClient
	}
	var v api.Video
	testenv.Upload(t, client, base, tok, name, "", "clip.mp4", clip, &v)
	if v.State != api.StatePublished {
		t.Fatalf("upload %q: %s, want it published at once", name, v.State)
	}
	return v
}

func TestPodInfoAndMetrics(t *testing.T) {
	p := startInProcess(t, "--name", "test pod")
	resp, err := http.Get(p.URL() + "/api/v1/pod")
	if err != nil {
		t.Fatal(err)
	}
	var info api.PodInfo
	json.NewDecoder(resp.Body).Decode(&info)
	resp.Body.Close()
	if info.Name != "test pod" || info.URL != p.URL() || len(info.APIVersions) == 0 || !strings.Contains(info.PublicKey, "PUBLIC KEY") {
		t.Fatalf("pod info %+v", info)
	}
	resp, err = http.Get(p.URL() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !bytes.Contains(body, []byte("swarmtube_http_requests_total")) {
		t.Fatal("metrics lack request counts")
	}
	resp, err = http.Get(p.URL() + "/api/v1/no/such/route")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("unknown API route: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
}

func TestPublicCORSAndPerPodCookie(t *testing.T) {
	p := startInProcess(t)
	for path, want := range map[string]string{
		"/api/v1/pod": "*", "/api/v1/videos": "*", "/api/v1/videos/search?q=x": "*",
		"/api/v1/users/me": "", "/metrics": "",
	} {
		resp, err := http.Get(p.URL() + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got := resp.Header.Get("Access-Control-Allow-Origin"); got != want {
			t.Errorf("%s: Access-Control-Allow-Origin %q, want %q", path, got, want)
		}
	}
	resp, err := http.Post(p.URL()+"/api/v1/users/token", "application/json", strings.NewReader(`{"username":"admin","password":"admin-password"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	_, port, _ := net.SplitHostPort(p.Addr().String())
	if c := resp.Cookies(); len(c) != 1 || c[0].Name != "swarmtube_session_"+port {
		t.Fatalf("login cookies %v, want one named swarmtube_session_%s", c, port)
	}
}

// TestCrashDuringRegistrationsLosesNothing kills a real pod process with
// SIGKILL while clients register, restarts it on the same data dir and
// checks that every registration that was answered 201 is still there.
func TestCrashDuringRegistrationsLosesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the pod binary")
	}
	bin := testenv.PodBinary(t)
	t.Cleanup(testenv.RemoveBuilt) // the one test of the package that runs it
	data := t.TempDir()
	addr := freeAddr(t)
	base := "http://" + addr

	start := func() *exec.Cmd {
		cmd := exec.Command(bin, "--listen", addr, "--data", data, "--admin-password", "admin-password", "--log-level", "warn", "--turn-listen", "127.0.0.1:0")
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		waitUp(t, base)
		return cmd
	}
	cmd := start()

	var mu sync.Mutex
	var acked []string
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ctx.Err() == nil; i++ {
				name := fmt.Sprintf("user%d-%d", w, i)
				body := fmt.Sprintf(`{"username":%q,"password":"correct horse"}`, name)
				resp, err := http.Post(base+"/api/v1/users", "application/json", strings.NewReader(body))
				if err != nil {
					return // the pod died under us
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode == http.StatusCreated {
					mu.Lock()
					acked = append(acked, name)
					mu.Unlock()
				}
			}
		}()
	}
	// Kill once enough registrations are acknowledged that losing any would
	// show, and while more are in flight; time alone says nothing on a busy machine.
	ctx60, cancel60 := context.WithTimeout(ctx, 60*time.Second)
	testenv.Poll(ctx60, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(acked) >= 20
	})
	cancel60()
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	cancel()
	wg.Wait()
	if len(acked) < 5 {
		t.Fatalf("only %d registrations before the kill; the test proves nothing", len(acked))
	}

	cmd = start() // must open the store without error
	defer func() { cmd.Process.Signal(syscall.SIGTERM); cmd.Wait() }()
	tok := loginHTTP(t, base, "admin", "admin-password")
	have := map[string]bool{}
	for start := 0; start == 0 || start < len(have); start += 100 { // the list is paged
		req, _ := http.NewRequest("GET", fmt.Sprintf("%s/api/v1/users?start=%d&count=100", base, start), nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var list api.UserList
		json.NewDecoder(resp.Body).Decode(&list)
		resp.Body.Close()
		for _, u := range list.Data {
			have[u.Username] = true
		}
		if len(list.Data) == 0 || len(have) >= list.Total {
			break
		}
	}
	for _, name := range acked {
		if !have[name] {
			t.Errorf("user %s was acknowledged but lost in the crash", name)
		}
	}
	t.Logf("%d acknowledged registrations survived SIGKILL", len(acked))
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func waitUp(t *testing.T, base string) {
	t.Helper()
	testenv.Eventually(t, 20*time.Second, "the pod at "+base+" to come up", func() bool {
		resp, err := http.Get(base + "/api/v1/pod")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil
	})
}

func loginHTTP(t *testing.T, base, user, pass string) string {
	t.Helper()
	return testenv.Login(t, http.DefaultClient, base, user, pass)
}

// TestICEServers: the route hands out the embedded server's URLs with
// credentials that really allocate a relay on it, or the configured
// external servers instead, or nothing when TURN is off.
func TestICEServers(t *testing.T) {
	get := func(t *testing.T, p *Pod) api.ICEServers {
		t.Helper()
		resp, err := http.Get(p.URL() + "/api/v1/webrtc/ice-servers")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != 200 || resp.Header.Get("Cache-Control") != "no-store" {
			t.Fatalf("status %d, Cache-Control %q", resp.StatusCode, resp.Header.Get("Cache-Control"))
		}
		var out api.ICEServers
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
			t.Fatal(err)
		}
		return out
	}
	t.Run("embedded", func(t *testing.T) {
		p := startInProcess(t, "--name", "turnpod")
		got := get(t, p)
		if got.TTL < 3600 || len(got.ICEServers) != 2 {
			t.Fatalf("got %+v", got)
		}
		stun, relay := got.ICEServers[0], got.ICEServers[1]
		hostport := strings.TrimPrefix(stun.URLs[0], "stun:")
		if !strings.HasPrefix(stun.URLs[0], "stun:127.0.0.1:") || relay.Username == "" || relay.Credential == "" ||
			len(relay.URLs) != 2 || relay.URLs[0] != "turn:"+hostport+"?transport=udp" || relay.URLs[1] != "turn:"+hostport+"?transport=tcp" {
			t.Fatalf("servers %+v", got.ICEServers)
		}
		if again := get(t, p); again.ICEServers[1].Username == relay.Username {
			t.Error("two callers got the same username")
		}
		conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		c, err := pionturn.NewClient(&pionturn.ClientConfig{STUNServerAddr: hostport, TURNServerAddr: hostport, Conn: conn,
			Username: relay.Username, Password: relay.Credential, Realm: "turnpod"})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if err := c.Listen(); err != nil {
			t.Fatal(err)
		}
		rc, err := c.Allocate()
		if err != nil {
			t.Fatalf("allocate with the route's credentials: %v", err)
		}
		rc.Close()
		resp, err := http.Get(p.URL() + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !bytes.Contains(body, []byte("swarmtube_turn_allocations_total 1")) {
			t.Error("metrics do not count the allocation")
		}
	})
	t.Run("external", func(t *testing.T) {
		p := startInProcess(t, "--ice-servers", `[{"urls":"stun:stun.example.org"}]`)
		if got := get(t, p); got.TTL != 0 || len(got.ICEServers) != 1 || got.ICEServers[0].URLs[0] != "stun:stun.example.org" {
			t.Fatalf("got %+v", got)
		}
		if p.turn != nil {
			t.Error("the embedded server runs although external servers replace it")
		}
	})
	t.Run("off", func(t *testing.T) {
		p := startInProcess(t, "--turn-listen", "off")
		if got := get(t, p); got.ICEServers == nil || len(got.ICEServers) != 0 {
			t.Fatalf("got %+v, want an empty list", got)
		}
	})
}

// TestNewFailureReleasesEverything: a New that fails after it opened the
// data dir lock, the listener, the store and the seeder (here: the videos
// directory is a file) releases all of them, so the same New succeeds once
// the cause is gone. Before, New's deferred Close ran on a nil *Pod and
// panicked (issue 15).
func TestNewFailureReleasesEverything(t *testing.T) {
	data := t.TempDir()
	listen, bt := freeAddr(t), freeAddr(t)
	_, btPort, _ := net.SplitHostPort(bt)
	cfg, err := config.Parse([]string{"--listen", listen, "--data", data, "--bt-port", btPort, "--admin-password", "admin-password", "--turn-listen", "off"},
		func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	blocker := filepath.Join(data, "videos")
	if err := os.WriteFile(blocker, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if p, err := New(cfg, slog.New(slog.DiscardHandler)); err == nil {
		p.Close()
		t.Fatal("New succeeded with a file where the videos directory goes")
	}
	os.Remove(blocker)
	p, err := New(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("New after a failed New on the same dir and ports: %v", err)
	}
	p.Close()
}

// TestPagesAndAssetsCompressed: pages, styles and scripts go out compressed
// to browsers that accept it (issue 17 item 22).
func TestPagesAndAssetsCompressed(t *testing.T) {
	p := startInProcess(t)
	for _, path := range []string{"/", "/upload", "/static/css/style.css", "/static/js/ui.js"} {
		req, _ := http.NewRequest("GET", p.URL()+path, nil)
		req.Header.Set("Accept-Encoding", "gzip")
		resp, err := (&http.Transport{DisableCompression: true}).RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Encoding") != "gzip" {
			t.Errorf("GET %s: %s, Content-Encoding %q, want 200 gzip", path, resp.Status, resp.Header.Get("Content-Encoding"))
		}
	}
}

// TestManyRangesAnsweredOnce: the pod's handler drops a Range of many
// ranges (httpx.ModestRanges), so the answer is at most the file once.
// net/http already ignores ranges that add up to more than the file; many
// tiny ones did not, and each part's headers made the answer many times
// the bytes asked for and larger than the file.
func TestManyRangesAnsweredOnce(t *testing.T) {
	p := startInProcess(t)
	get := func(rng string) (int, int) {
		req, _ := http.NewRequest("GET", p.URL()+"/static/js/ui.js", nil)
		req.Header.Set("Range", rng)
		resp, err := (&http.Transport{DisableCompression: true}).RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, len(b)
	}
	if code, n := get("bytes=0-9"); code != http.StatusPartialContent || n != 10 {
		t.Fatalf("one range: %d, %d bytes", code, n)
	}
	_, size := get("bytes=0-")
	var tiny []string
	for i := range 200 {
		tiny = append(tiny, fmt.Sprintf("%d-%d", 2*i, 2*i))
	}
	if code, n := get("bytes=" + strings.Join(tiny, ",")); code != http.StatusOK || n != size {
		t.Fatalf("200 one-byte ranges: %d, %d bytes; want the %d-byte file once (200)", code, n, size)
	}
}

// TestFeedsServed: the pod mounts its RSS and Atom feeds (issue 17).
func TestFeedsServed(t *testing.T) {
	p := startInProcess(t)
	for path, ctype := range map[string]string{"/feeds/videos.xml": "application/rss+xml", "/feeds/videos.atom": "application/atom+xml"} {
		resp, err := http.Get(p.URL() + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), ctype) {
			t.Errorf("GET %s: %s %q", path, resp.Status, resp.Header.Get("Content-Type"))
		}
	}
}

// TestStoreLockedByAnotherProgram: a database held by a program that does
// not take the data directory's lock (an old binary, a bbolt tool) is
// reported after the store's short open timeout, not waited on forever.
func TestStoreLockedByAnotherProgram(t *testing.T) {
	data := t.TempDir()
	db, err := bolt.Open(filepath.Join(data, "swarmtube.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	cfg, err := config.Parse([]string{"--listen", "127.0.0.1:0", "--data", data, "--turn-listen", "off"}, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	p, err := New(cfg, slog.New(slog.DiscardHandler))
	if err == nil {
		p.Close()
		t.Fatal("New succeeded on a database another program holds")
	}
	if want := "is locked by another process"; !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not say %q", err, want)
	}
	if d := time.Since(start); d > 30*time.Second {
		t.Errorf("New took %v to give up", d)
	}
}
