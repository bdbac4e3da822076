package deploy

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"nhooyr.io/websocket"

	"github.com/swarmtube/swarmtube/internal/testcert"
	"github.com/swarmtube/swarmtube/internal/testenv"
	"github.com/swarmtube/swarmtube/server/api"
)

// docUpstream and docName are what docs/deploy.md's configurations proxy
// to and serve; the tests replace them.
const (
	docUpstream = "127.0.0.1:9000"
	docName     = "pod.example.org"
)

// TestBehindReverseProxy runs a pod in plain HTTP behind Caddy and behind
// nginx, each configured with the block docs/deploy.md shows, and checks
// through the proxy: the session cookie is Secure (X-Forwarded-Proto from
// a trusted proxy), the WebSocket tracker upgrades and its sockets stay
// open while idle, a large tus upload in several PATCHes completes, and
// the web seed answers Range requests with 206 and the right bytes.
func TestBehindReverseProxy(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join(testenv.RepoRoot(t), "docs", "deploy.md"))
	if err != nil {
		t.Fatal(err)
	}
	clip := bigClip(t)
	ca := testcert.NewCA(t)
	leaf := ca.Issue(t, "proxy", time.Time{}, podName)

	for _, px := range []struct {
		name  string
		lang  string // of its block in docs/deploy.md
		start func(t *testing.T, bin, block string, leaf testcert.Leaf, port int, upstream string) <-chan struct{}
	}{
		{"caddy", "caddyfile", startCaddy},
		{"nginx", "nginx", startNginx},
	} {
		t.Run(px.name, func(t *testing.T) {
			bin := proxyBinary(t, px.name)
			begin := time.Now()
			block := fencedBlock(t, string(doc), px.lang)
			port, release := reservePort(t)
			base := "https://" + podName + ":" + strconv.Itoa(port)
			p := startPod(t, "--listen", "127.0.0.1:0", "--data", t.TempDir(), "--url", base,
				"--trusted-proxies", "127.0.0.1,::1", "--hsts", "1h")
			release()
			exited := px.start(t, bin, block, leaf, port, p.Addr().String())
			c := newClient(t, ca, port)
			waitReady(t, c, base, exited)

			// Pod info and the Secure cookie.
			var info api.PodInfo
			resp := c.do(t, "GET", base+"/api/v1/pod", nil, nil)
			json.NewDecoder(resp.Body).Decode(&info)
			resp.Body.Close()
			if info.URL != base || resp.Header.Get("Strict-Transport-Security") == "" {
				t.Fatalf("pod info URL %q, HSTS %q through %s", info.URL, resp.Header.Get("Strict-Transport-Security"), px.name)
			}
			resp = c.do(t, "POST", base+"/api/v1/users/token", strings.NewReader(`{"username":"admin","password":"admin-password"}`),
				map[string]string{"Content-Type": "application/json"})
			var tok api.Token
			json.NewDecoder(resp.Body).Decode(&tok)
			resp.Body.Close()
			if ck := resp.Cookies(); len(ck) != 1 || !ck[0].Secure {
				t.Fatalf("login through %s: cookies %+v, want one Secure session cookie", px.name, ck)
			}
			auth := map[string]string{"Authorization": "Bearer " + tok.Token}

			// Tracker sockets: one stays idle, one talks, then both must work.
			wss := "wss://" + podName + ":" + strconv.Itoa(port) + "/tracker/socket"
			idle := c.dialWS(t, wss)
			idleSince := time.Now()
			busy := c.dialWS(t, wss)
			scrape(t, busy)

			// A large resumable upload, 8 MiB per PATCH as the pages send.
			v := c.tusUpload(t, base, auth, clip, 8<<20)
			if !strings.HasPrefix(v.WebseedURL, base+"/static/webseed/") {
				t.Fatalf("web seed URL %q", v.WebseedURL)
			}

			// Range requests to the web seed.
			for _, rg := range []struct {
				header     string
				start, end int // inclusive
			}{
				{"bytes=1000-1999", 1000, 1999},
				{fmt.Sprintf("bytes=%d-", len(clip)-100), len(clip) - 100, len(clip) - 1},
				{"bytes=-50", len(clip) - 50, len(clip) - 1},
			} {
				resp := c.do(t, "GET", v.WebseedURL, nil, map[string]string{"Range": rg.header})
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				want := fmt.Sprintf("bytes %d-%d/%d", rg.start, rg.end, len(clip))
				if resp.StatusCode != http.StatusPartialContent || resp.Header.Get("Content-Range") != want || !bytes.Equal(body, clip[rg.start:rg.end+1]) {
					t.Fatalf("Range %s through %s: %d %q, %d bytes; want 206 %q", rg.header, px.name, resp.StatusCode, resp.Header.Get("Content-Range"), len(body), want)
				}
			}

			// The idle socket has been silent all along; it must still be open.
			// SWARMTUBE_PROXY_IDLE=70s keeps it silent that long first, past
			// the 60 s that proxies commonly default to (not in the suite:
			// too slow).
			if d, err := time.ParseDuration(os.Getenv("SWARMTUBE_PROXY_IDLE")); err == nil {
				time.Sleep(time.Until(idleSince.Add(d))) // timed: behaviour: the socket's silence is what is tested
				t.Logf("%s: tracker socket idle for %v", px.name, time.Since(idleSince).Round(time.Second))
			}
			scrape(t, idle)
			scrape(t, busy)
			idle.Close(websocket.StatusNormalClosure, "")
			busy.Close(websocket.StatusNormalClosure, "")
			t.Logf("%s: everything through the proxy in %v", px.name, time.Since(begin).Round(time.Millisecond))
		})
	}
}

// TestNginxTimeoutGovernsTrackerSockets shows why docs/deploy.md sets
// nginx's proxy timeouts: with them shortened to 2 s, a tracker socket
// silent for longer is cut by nginx, while one that talks every half
// second outlives it. The document's own values must then exceed the
// pod's WebSocket announce interval (2 minutes) and its silent-socket
// timeout (20 minutes), which the test reads from the document.
func TestNginxTimeoutGovernsTrackerSockets(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join(testenv.RepoRoot(t), "docs", "deploy.md"))
	if err != nil {
		t.Fatal(err)
	}
	block := fencedBlock(t, string(doc), "nginx")
	timeouts := regexp.MustCompile(`(proxy_(?:read|send)_timeout) (\w+);`)
	found := timeouts.FindAllStringSubmatch(block, -1)
	if len(found) != 2 {
		t.Fatalf("docs/deploy.md's nginx block sets %d of proxy_read_timeout and proxy_send_timeout", len(found))
	}
	for _, m := range found {
		d, err := time.ParseDuration(m[2])
		if err != nil || d < 20*time.Minute {
			t.Errorf("docs/deploy.md: %s %s is shorter than the pod's 20-minute silent-socket timeout", m[1], m[2])
		}
	}

	bin := proxyBinary(t, "nginx")
	ca := testcert.NewCA(t)
	leaf := ca.Issue(t, "proxy", time.Time{}, podName)
	port, release := reservePort(t)
	base := "https://" + podName + ":" + strconv.Itoa(port)
	p := startPod(t, "--listen", "127.0.0.1:0", "--data", t.TempDir(), "--url", base, "--trusted-proxies", "127.0.0.1")
	release()
	short := timeouts.ReplaceAllString(block, "$1 2s;")
	exited := startNginx(t, bin, short, leaf, port, p.Addr().String())
	c := newClient(t, ca, port)
	waitReady(t, c, base, exited)

	wss := "wss://" + podName + ":" + strconv.Itoa(port) + "/tracker/socket"
	idle := c.dialWS(t, wss)
	busy := c.dialWS(t, wss)
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		scrape(t, busy)
		time.Sleep(500 * time.Millisecond) // timed: behaviour: the busy socket talks while the idle one stays silent
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := idle.Write(ctx, websocket.MessageText, []byte(`{"action":"scrape"}`)); err == nil {
		if _, _, err := idle.Read(ctx); err == nil {
			t.Fatal("a socket silent for 5 s outlived a 2 s proxy_read_timeout: the timeout does not govern tracker sockets, so the test proves nothing")
		}
	}
	busy.Close(websocket.StatusNormalClosure, "")
}

// proxyBinary finds a proxy's program, also in /usr/sbin (where Debian
// puts nginx) when that is not in PATH; without it the test skips, or
// fails in CI.
func proxyBinary(t *testing.T, name string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	if p := "/usr/sbin/" + name; fileExists(p) {
		return p
	}
	return testenv.LookPath(t, name)
}

func fileExists(name string) bool {
	st, err := os.Stat(name)
	return err == nil && !st.IsDir()
}

// reservePort holds a free loopback port until release, so the pod,
// started meanwhile on port 0, cannot be given the proxy's port.
func reservePort(t *testing.T) (int, func()) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln.Addr().(*net.TCPAddr).Port, func() { ln.Close() }
}

// fencedBlock returns the only ```lang block of doc.
func fencedBlock(t *testing.T, doc, lang string) string {
	t.Helper()
	parts := strings.Split(doc, "\n```"+lang+"\n")
	if len(parts) != 2 {
		t.Fatalf("docs/deploy.md has %d ```%s blocks, want 1", len(parts)-1, lang)
	}
	block, _, ok := strings.Cut(parts[1], "\n```\n")
	if !ok {
		t.Fatalf("docs/deploy.md: unterminated ```%s block", lang)
	}
	return block + "\n"
}

// replaceAll replaces each old with its new and fails when one is absent,
// so a document that drifts breaks the test instead of testing something
// else.
func replaceAll(t *testing.T, s string, pairs ...string) string {
	t.Helper()
	for i := 0; i < len(pairs); i += 2 {
		if !strings.Contains(s, pairs[i]) {
			t.Fatalf("the configuration in docs/deploy.md no longer contains %q", pairs[i])
		}
		s = strings.ReplaceAll(s, pairs[i], pairs[i+1])
	}
	return s
}

// startCaddy runs caddy with the document's site block, its certificate
// given by the test instead of ACME. The global options keep it off the
// machine's ports 80 and 2019 and out of $HOME.
func startCaddy(t *testing.T, bin, block string, leaf testcert.Leaf, port int, upstream string) <-chan struct{} {
	t.Helper()
	dir := t.TempDir()
	site := replaceAll(t, block, docName+" {", podName+" {\n\tbind 127.0.0.1\n\ttls "+leaf.CertFile+" "+leaf.KeyFile, docUpstream, upstream)
	conf := fmt.Sprintf("{\n\tadmin off\n\tauto_https disable_redirects\n\thttps_port %d\n\tstorage file_system %s\n\tskip_install_trust\n}\n\n%s",
		port, filepath.Join(dir, "storage"), site)
	file := filepath.Join(dir, "Caddyfile")
	if err := os.WriteFile(file, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "run", "--config", file, "--adapter", "caddyfile")
	cmd.Env = append(os.Environ(), "HOME="+dir, "XDG_DATA_HOME="+dir, "XDG_CONFIG_HOME="+dir)
	return runProxy(t, cmd, dir)
}

// startNginx runs nginx in the foreground with the document's block inside
// a minimal main configuration; listen ports, name, certificate files and
// upstream are the test's.
func startNginx(t *testing.T, bin, block string, leaf testcert.Leaf, port int, upstream string) <-chan struct{} {
	t.Helper()
	dir := t.TempDir()
	redirectPort := closedPort(t)
	site := replaceAll(t, block,
		"\tlisten [::]:80;\n", "",
		"\tlisten [::]:443 ssl http2;\n", "",
		"listen 80;", fmt.Sprintf("listen 127.0.0.1:%d;", redirectPort),
		"listen 443 ssl http2;", fmt.Sprintf("listen 127.0.0.1:%d ssl http2;", port),
		"/etc/letsencrypt/live/"+docName+"/fullchain.pem", leaf.CertFile,
		"/etc/letsencrypt/live/"+docName+"/privkey.pem", leaf.KeyFile,
		"root /var/www/html;", "root "+dir+";",
		docName, podName,
		docUpstream, upstream,
	)
	var temps strings.Builder
	for _, kind := range []string{"client_body", "proxy", "fastcgi", "uwsgi", "scgi"} {
		fmt.Fprintf(&temps, "\t%s_temp_path %s;\n", kind, filepath.Join(dir, kind))
	}
	conf := fmt.Sprintf("daemon off;\nmaster_process off;\npid %s;\nerror_log stderr warn;\nevents { worker_connections 512; }\nhttp {\n\taccess_log off;\n%s\n%s}\n",
		filepath.Join(dir, "nginx.pid"), temps.String(), site)
	file := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(file, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	return runProxy(t, exec.Command(bin, "-e", "stderr", "-p", dir, "-c", file), dir)
}

// runProxy starts a proxy process, stopping it (it alone, by its pid) at
// the end of the test; its output goes to the test log on failure. The
// channel closes when the process exits.
func runProxy(t *testing.T, cmd *exec.Cmd, dir string) <-chan struct{} {
	t.Helper()
	var out syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.Dir = dir
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("%s output:\n%s", filepath.Base(cmd.Path), out.String())
		}
	})
	return done
}

// client talks to the proxy as a browser would: by the pod's name, over
// TLS, trusting only the test CA.
type client struct {
	*http.Client
	ws *http.Client // HTTP/1.1 only: WebSocket upgrades
}

func newClient(t *testing.T, ca *testcert.CA, port int) *client {
	t.Helper()
	addr := "127.0.0.1:" + strconv.Itoa(port)
	dial := func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}
	h2 := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool()}, DialContext: dial, ForceAttemptHTTP2: true}
	h1 := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool()}, DialContext: dial}
	t.Cleanup(h2.CloseIdleConnections)
	t.Cleanup(h1.CloseIdleConnections)
	return &client{Client: &http.Client{Transport: h2, Timeout: time.Minute}, ws: &http.Client{Transport: h1}}
}

func (c *client) do(t *testing.T, method, url string, body io.Reader, headers map[string]string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	return resp
}

func (c *client) dialWS(t *testing.T, url string) *websocket.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, resp, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPClient: c.ws})
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		t.Fatalf("WebSocket %s: %v (HTTP %d)", url, err, status)
	}
	t.Cleanup(func() { conn.CloseNow() })
	return conn
}

// scrape sends a scrape on a tracker socket and waits for its answer.
func scrape(t *testing.T, conn *websocket.Conn) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := conn.Write(ctx, websocket.MessageText, []byte(`{"action":"scrape"}`)); err != nil {
		t.Fatalf("tracker socket write: %v", err)
	}
	_, msg, err := conn.Read(ctx)
	if err != nil || !bytes.Contains(msg, []byte(`"scrape"`)) {
		t.Fatalf("tracker socket: %q %v", msg, err)
	}
}

// tusUpload sends data with tus 1.0.0 in chunk-sized PATCHes, following
// the Location the pod answers, and finishes it into a video.
func (c *client) tusUpload(t *testing.T, base string, auth map[string]string, data []byte, chunk int) api.Video {
	t.Helper()
	h := func(extra ...string) map[string]string {
		m := map[string]string{"Tus-Resumable": "1.0.0"}
		for k, v := range auth {
			m[k] = v
		}
		for i := 0; i < len(extra); i += 2 {
			m[extra[i]] = extra[i+1]
		}
		return m
	}
	resp := c.do(t, "POST", base+"/api/v1/videos/uploads/", nil, h("Upload-Length", strconv.Itoa(len(data)),
		"Upload-Metadata", "name YmVoaW5kIGEgcHJveHk=,filename YmlnLm1wNA=="))
	resp.Body.Close()
	loc, err := resp.Request.URL.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusCreated || err != nil {
		t.Fatalf("tus create: %d, Location %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if loc.Scheme != "https" || loc.Host != resp.Request.URL.Host {
		t.Fatalf("tus Location %s leaves the https origin %s", loc, resp.Request.URL.Host)
	}
	patches := 0
	for off := 0; off < len(data); off += chunk {
		end := min(off+chunk, len(data))
		resp := c.do(t, "PATCH", loc.String(), bytes.NewReader(data[off:end]), h("Upload-Offset", strconv.Itoa(off), "Content-Type", "application/offset+octet-stream"))
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusNoContent || resp.Header.Get("Upload-Offset") != strconv.Itoa(end) {
			t.Fatalf("PATCH at %d: %d offset %q %s", off, resp.StatusCode, resp.Header.Get("Upload-Offset"), body)
		}
		patches++
	}
	if patches < 3 {
		t.Fatalf("only %d PATCHes: the upload is too small to test chunking", patches)
	}
	resp = c.do(t, "POST", loc.String()+"/finish", strings.NewReader(`{}`), h("Content-Type", "application/json"))
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var v api.Video
	if resp.StatusCode != http.StatusCreated || json.Unmarshal(body, &v) != nil {
		t.Fatalf("tus finish: %d %s", resp.StatusCode, body)
	}
	return v
}

// waitReady waits until the proxy answers for the pod.
func waitReady(t *testing.T, c *client, base string, exited <-chan struct{}) {
	t.Helper()
	testenv.Eventually(t, 20*time.Second, "the proxy to answer for the pod at "+base, func() bool {
		select {
		case <-exited:
			t.Fatal("the proxy exited at start")
		default:
		}
		resp, err := c.Get(base + "/api/v1/pod")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
}

// bigClip is a ~24 MB MP4 (2 s of lossless noise): tens of MiB, so a tus
// upload takes several PATCHes, yet quick to make.
func bigClip(t *testing.T) []byte {
	t.Helper()
	_, data := testenv.MakeClip(t, testenv.Clip{Seconds: 2, Width: 640, Height: 480, Rate: 25, Pattern: "nullsrc",
		Filter: "geq=random(1)*255:128:128", Faststart: true,
		Args: []string{"-c:v", "libx264", "-preset", "ultrafast", "-qp", "0", "-pix_fmt", "yuv420p"}})
	return data
}

// syncBuffer is a bytes.Buffer safe for a process's output goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
