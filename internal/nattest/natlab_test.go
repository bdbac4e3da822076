package nattest

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/swarmtube/swarmtube/internal/chromium"
	"github.com/swarmtube/swarmtube/internal/netlab"
	"github.com/swarmtube/swarmtube/internal/testcert"
	"github.com/swarmtube/swarmtube/internal/testenv"
	"github.com/swarmtube/swarmtube/server/api"
)

const (
	podPort   = "8443"
	turnPort  = "3478"
	btPort    = "6881"
	adminPass = "admin-password"
)

// TestNATLab is issue 11's lab: the pod at 203.0.113.1 serves HTTPS with a
// test CA's certificate (Chromium trusts the CA through its NSS database,
// not by ignoring certificate errors); viewer A is behind an
// endpoint-independent NAT, viewer B behind a symmetric one, each a real
// headless Chromium started in its namespace. With the pod's STUN/TURN,
// B gets at least half of its bytes from A (A and B cannot punch through
// B's symmetric NAT, so ICE falls back to the pod's relay); an aria2c
// behind NAT downloads from the pod's TCP seeder; with the ICE servers off
// (--ice-servers '[]') B cannot reach A, still plays, and the page says why.
func TestNATLab(t *testing.T) {
	lab := netlab.New(t)
	testenv.LookPath(t, "nft")
	tools := tools{
		chromium: testenv.Chromium(t),
		certutil: testenv.LookPath(t, "certutil"),
		aria2:    testenv.LookPath(t, "aria2c"),
	}
	clip := makeClip(t)
	bin := buildPod(t)

	podHost := lab.Host("pod")
	homeA := lab.Router("home-a", netlab.EndpointIndependent)
	hostA := homeA.Host("viewer-a")
	hostC := homeA.Host("aria2")
	hostB := lab.Router("home-b", netlab.Symmetric).Host("viewer-b")
	ca := testcert.NewCA(t)
	leaf := ca.Issue(t, "pod", time.Time{}, podHost.Addr().String())

	t.Run("with STUN and TURN", func(t *testing.T) {
		p := startPod(t, podHost, bin, ca, leaf)
		id := p.upload(t, clip, "Across two NATs")
		watch := p.url + "/videos/" + id

		a := newViewer(t, "A", hostA, ca, tools)
		a.open(t, watch)
		// B's share needs A in the swarm with the whole video. On a loaded
		// machine A's engine may start after the player stopped waiting
		// (or a load of it failed once): A plays from the pod meanwhile,
		// where its progress is what the <video> buffered, then moves to
		// peer to peer (player.js upgrading).
		a.waitJS(t, `document.querySelector("#stats-mode")?.textContent.startsWith("Peer to peer") && document.querySelector("#stat-progress")?.textContent === "100%"`, 3*time.Minute)
		t.Logf("A: %s; peers %s; from peers %s, from the pod %s", a.text(t, "#stats-mode"), a.text(t, "#stat-peers"),
			a.text(t, "#stat-from-peers"), a.text(t, "#stat-from-pod"))

		b := newViewer(t, "B", hostB, ca, tools)
		start := time.Now()
		b.open(t, watch)
		b.waitText(t, "#stat-progress", "100%", 3*time.Minute)
		took := time.Since(start)
		share := b.peerShare(t)
		t.Logf("B: %s; peers %s; from peers %s, from the pod %s (%d%% from peers) in %s",
			b.text(t, "#stats-mode"), b.text(t, "#stat-peers"), b.text(t, "#stat-from-peers"), b.text(t, "#stat-from-pod"), share, took.Round(100*time.Millisecond))
		m := p.metrics(t)
		t.Logf("pod: STUN binding requests %v, TURN allocations %v, relayed bytes to peers %v and to clients %v, dropped %v",
			m["swarmtube_turn_stun_binding_requests_total"], m["swarmtube_turn_allocations_total"],
			m[`swarmtube_turn_relayed_bytes_total{direction="to_peer"}`], m[`swarmtube_turn_relayed_bytes_total{direction="to_client"}`],
			m["swarmtube_turn_dropped_bytes_total"])
		if share < 50 {
			t.Errorf("B got %d%% of its bytes from peers, want at least 50%%", share)
		}
		if m["swarmtube_turn_stun_binding_requests_total"] == 0 {
			t.Error("no STUN binding request reached the pod")
		}
		// A symmetric NAT and an address-and-port-filtering one leave only a
		// relay between A and B.
		if !strings.Contains(b.text(t, "#stat-peers"), "relayed") {
			t.Errorf("B's peers %q: the stats panel does not say the peer is relayed", b.text(t, "#stat-peers"))
		}
		if m[`swarmtube_turn_relayed_bytes_total{direction="to_client"}`]+m[`swarmtube_turn_relayed_bytes_total{direction="to_peer"}`] < float64(len(clip))/4 {
			t.Errorf("the relay carried %v bytes of a %d-byte video", m[`swarmtube_turn_relayed_bytes_total{direction="to_client"}`], len(clip))
		}

		t.Run("aria2c behind NAT", func(t *testing.T) {
			before := p.metrics(t)["swarmtube_seeder_uploaded_bytes_total"]
			got := aria2Download(t, hostC, tools.aria2, ca, p.magnet(t, id))
			if want := p.webseed(t, id); !bytes.Equal(got, want) {
				t.Fatalf("aria2c got %d bytes, not the video's %d", len(got), len(want))
			}
			sent := p.metrics(t)["swarmtube_seeder_uploaded_bytes_total"] - before
			t.Logf("aria2c downloaded %d bytes; the seeder sent %v meanwhile", len(got), sent)
			if sent < float64(len(got)) {
				t.Errorf("the seeder sent %v bytes while aria2c downloaded %d: not all came from it", sent, len(got))
			}
		})
	})

	t.Run("without ICE servers", func(t *testing.T) {
		p := startPod(t, podHost, bin, ca, leaf, "--ice-servers", "[]")
		id := p.upload(t, clip, "No ICE servers")
		watch := p.url + "/videos/" + id
		a := newViewer(t, "A", hostA, ca, tools)
		a.open(t, watch)
		a.waitJS(t, `document.querySelector("#player video").currentTime > 1`, time.Minute)
		b := newViewer(t, "B", hostB, ca, tools)
		b.open(t, watch)
		// B's offers reach A through the tracker, but no ICE path exists:
		// B plays from the pod and the page says why.
		want := "Other viewers are watching, but none can be reached from your network, so this video plays from the pod."
		b.waitText(t, "#stats-mode", want, 2*time.Minute)
		b.waitJS(t, `document.querySelector("#player video").currentTime > 2`, time.Minute)
		t.Logf("B: %s; peers %s; from peers %s, from the pod %s", b.text(t, "#stats-mode"), b.text(t, "#stat-peers"),
			b.text(t, "#stat-from-peers"), b.text(t, "#stat-from-pod"))
		if got := b.text(t, "#stat-from-peers"); got != "0 B" {
			t.Errorf("B got %s from peers with no ICE path", got)
		}
	})
}

type tools struct{ chromium, certutil, aria2 string }

// buildPod builds the pod binary, with the browser engine embedded: the
// wasm is built into web/static first when `make build` has not.
func buildPod(t *testing.T) string {
	t.Helper()
	root := testenv.RepoRoot(t)
	if _, err := os.Stat(filepath.Join(root, "web", "static", "client.wasm")); err != nil {
		cmd := exec.Command(filepath.Join(root, "scripts", "build-wasm.sh"))
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("build the wasm: %v\n%s", err, out)
		}
	}
	bin := testenv.PodBinary(t)
	t.Cleanup(testenv.RemoveBuilt) // one test in the package
	return bin
}

// makeClip makes a 60 s 720p MP4 of about 7 MB, moov first: longer than
// the engine's pod horizon (30 s of media), so most of it must come from
// other viewers.
func makeClip(t *testing.T) []byte {
	t.Helper()
	_, clip := testenv.MakeClip(t, testenv.Clip{Seconds: 60, Width: 1280, Height: 720, Rate: 25, Faststart: true,
		Args: []string{"-c:v", "libx264", "-preset", "ultrafast", "-b:v", "1M", "-pix_fmt", "yuv420p"}})
	return clip
}

// pod is the pod binary running in the lab's "pod" host.
type pod struct {
	url    string
	client *http.Client
	token  string
}

func startPod(t *testing.T, h *netlab.Host, bin string, ca *testcert.CA, leaf testcert.Leaf, extra ...string) *pod {
	t.Helper()
	ip := h.Addr().String()
	p := &pod{url: "https://" + ip + ":" + podPort, client: &http.Client{Timeout: time.Minute, Transport: &http.Transport{
		DialContext: h.DialContext, TLSClientConfig: &tls.Config{RootCAs: ca.Pool()}, DisableKeepAlives: true,
	}}}
	args := append([]string{
		"--listen", ip + ":" + podPort, "--url", p.url, "--tls-cert", leaf.CertFile, "--tls-key", leaf.KeyFile,
		"--data", t.TempDir(), "--admin-password", adminPass, "--bt-port", btPort,
		"--turn-listen", ip + ":" + turnPort, "--log-level", "info",
	}, append(slices.Clip(testenv.PodFlags), extra...)...)
	cmd := h.Command(context.Background(), bin, args...)
	// The seeder announces to the pod's own https and wss trackers: Go's
	// TLS must trust the lab's CA (crypto/x509 reads SSL_CERT_FILE).
	cmd.Env = append(os.Environ(), "SSL_CERT_FILE="+ca.CertFile)
	var log bytes.Buffer
	var mu sync.Mutex
	cmd.Stdout = writerFunc(func(b []byte) (int, error) { mu.Lock(); defer mu.Unlock(); return log.Write(b) })
	cmd.Stderr = cmd.Stdout
	t.Cleanup(func() { // after the pod has stopped
		if t.Failed() {
			mu.Lock()
			t.Logf("pod log:\n%s", tail(log.String(), 60))
			mu.Unlock()
		}
	})
	testenv.Start(t, cmd)
	ctx30, cancel30 := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel30()
	var err error
	if !testenv.Poll(ctx30, func() bool {
		var resp *http.Response
		if resp, err = p.client.Get(p.url + "/api/v1/pod"); err == nil {
			resp.Body.Close()
		}
		return err == nil
	}) {
		mu.Lock()
		t.Fatalf("the pod never answered over https: %v\n%s", err, log.String())
	}
	var tok struct{ Token string }
	p.call(t, "POST", "/api/v1/users/token", "application/json",
		strings.NewReader(`{"username":"admin","password":"`+adminPass+`"}`), &tok)
	p.token = tok.Token
	return p
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(b []byte) (int, error) { return f(b) }

func tail(s string, lines int) string {
	l := strings.Split(s, "\n")
	return strings.Join(l[max(0, len(l)-lines):], "\n")
}

// call sends a request to the pod and decodes its JSON answer into out,
// failing the test on any status but 2xx.
func (p *pod) call(t *testing.T, method, path, ctype string, body io.Reader, out any) {
	t.Helper()
	testenv.CallAPI(t, p.client, method, p.url+path, p.token, ctype, body, out)
}

// upload posts the clip and waits until it is published.
func (p *pod) upload(t *testing.T, clip []byte, name string) string {
	t.Helper()
	var v api.Video
	testenv.Upload(t, p.client, p.url, p.token, name, "", "clip.mp4", clip, &v)
	testenv.Eventually(t, 2*time.Minute, "video "+v.ID+" to be published", func() bool {
		if v.State == "" || v.State == "published" {
			return true
		}
		if v.State == "failed" {
			t.Fatalf("video %s failed", v.ID)
		}
		p.call(t, "GET", "/api/v1/videos/"+v.ID, "", nil, &v)
		return false
	})
	return v.ID
}

func (p *pod) video(t *testing.T, id string) api.Video {
	t.Helper()
	var v api.Video
	p.call(t, "GET", "/api/v1/videos/"+id, "", nil, &v)
	return v
}

func (p *pod) magnet(t *testing.T, id string) string { return p.video(t, id).Magnet }

func (p *pod) webseed(t *testing.T, id string) []byte {
	t.Helper()
	resp, err := p.client.Get(p.video(t, id).WebseedURL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("web seed: %d %v", resp.StatusCode, err)
	}
	return b
}

var metricLine = regexp.MustCompile(`^(swarmtube_[a-z_]+(?:\{[^}]*\})?) ([0-9.e+-]+)$`)

// metrics reads the pod's swarmtube_* metrics by name{labels}.
func (p *pod) metrics(t *testing.T) map[string]float64 {
	t.Helper()
	resp, err := p.client.Get(p.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if m := metricLine.FindStringSubmatch(sc.Text()); m != nil {
			v, _ := strconv.ParseFloat(m[2], 64)
			out[m[1]] = v
		}
	}
	return out
}

// viewer is a headless Chromium running in a lab host.
type viewer struct {
	name string
	ctx  context.Context

	mu      sync.Mutex // guards console
	console []string
}

// newViewer starts Chromium inside h's namespace (`ip netns exec`; the
// DevTools pipe crosses namespaces), with a HOME whose NSS database trusts
// the lab's CA, as a person's browser trusts a public one.
func newViewer(t *testing.T, name string, h *netlab.Host, ca *testcert.CA, tl tools) *viewer {
	t.Helper()
	home := t.TempDir()
	nss := filepath.Join(home, ".pki", "nssdb")
	if err := os.MkdirAll(nss, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"-d", "sql:" + nss, "-N", "--empty-password"},
		{"-d", "sql:" + nss, "-A", "-t", "C,,", "-n", "Swarmtube lab CA", "-i", ca.CertFile},
	} {
		if out, err := exec.Command(tl.certutil, args...).CombinedOutput(); err != nil {
			t.Fatalf("certutil %v: %v: %s", args, err, out)
		}
	}
	ipPath, err := exec.LookPath("ip")
	if err != nil {
		t.Fatal(err)
	}
	v := &viewer{name: name}
	t.Cleanup(func() { // after chromium.Start's: the console is complete
		if t.Failed() {
			v.mu.Lock()
			t.Logf("viewer %s console:\n%s", name, strings.Join(v.console, "\n"))
			v.mu.Unlock()
		}
	})
	v.ctx = chromium.Start(t, chromium.Options(t, filepath.Join(home, "profile"),
		chromedp.Env("HOME="+home),
		chromedp.ModifyCmdFunc(func(cmd *exec.Cmd) {
			cmd.Args = append([]string{"ip", "netns", "exec", h.Namespace(), cmd.Path}, cmd.Args[1:]...)
			cmd.Path = ipPath
		})))
	err = chromedp.Listen(v.ctx, func(ev any) {
		if line := chromium.ConsoleLine(ev); line != "" {
			v.log(line)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func (v *viewer) log(line string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if len(v.console) < 300 {
		v.console = append(v.console, line)
	}
}

func (v *viewer) open(t *testing.T, u string) {
	t.Helper()
	// The first action also starts this viewer's Chromium inside its
	// namespace; with the rest of the suite running beside it on 2 cores
	// that and the first TLS page took over 30 s once (clean-clone run).
	ctx, cancel := context.WithTimeout(v.ctx, 90*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Navigate(u), chromedp.WaitVisible(chromedp.CSS("#video-info"))); err != nil {
		t.Fatalf("%s: open %s: %v", v.name, u, err)
	}
	var secure bool
	v.eval(t, "window.isSecureContext", &secure)
	if !secure {
		t.Fatalf("%s: %s is not a secure context: the certificate is not trusted", v.name, u)
	}
}

func (v *viewer) eval(t *testing.T, expr string, out any) {
	t.Helper()
	res, err := chromedp.Run(v.ctx, chromedp.Evaluate[json.RawMessage](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("%s: eval %s: %v", v.name, expr, err)
	}
	if err := json.Unmarshal(res, out); err != nil {
		t.Fatalf("%s: eval %s: %v", v.name, expr, err)
	}
}

func (v *viewer) text(t *testing.T, sel string) string {
	t.Helper()
	var s string
	v.eval(t, fmt.Sprintf(`document.querySelector(%q)?.textContent ?? ""`, sel), &s)
	return s
}

func (v *viewer) waitJS(t *testing.T, cond string, timeout time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if !testenv.Poll(ctx, func() bool {
		var ok bool
		v.eval(t, "!!("+cond+")", &ok)
		return ok
	}) {
		t.Fatalf("%s: timed out waiting for %s; panel: %s / peers %s / progress %s / from peers %s / from pod %s", v.name, cond,
			v.text(t, "#stats-mode"), v.text(t, "#stat-peers"), v.text(t, "#stat-progress"), v.text(t, "#stat-from-peers"), v.text(t, "#stat-from-pod"))
	}
}

func (v *viewer) waitText(t *testing.T, sel, want string, timeout time.Duration) {
	t.Helper()
	v.waitJS(t, fmt.Sprintf(`document.querySelector(%q)?.textContent === %q`, sel, want), timeout)
}

var shareRE = regexp.MustCompile(`^(\d+)% of the bytes came from peers`)

// peerShare reads the stats panel's caption: the percentage of bytes from
// other viewers (the pod's seeder and web seed count as the pod).
func (v *viewer) peerShare(t *testing.T) int {
	t.Helper()
	m := shareRE.FindStringSubmatch(v.text(t, "#stats-caption"))
	if m == nil {
		t.Fatalf("%s: caption %q has no share", v.name, v.text(t, "#stats-caption"))
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// aria2Download fetches a magnet with aria2c running in h (behind NAT):
// the metadata and every piece come from the pod's seeder over TCP, which
// aria2c finds through the pod's https tracker.
func aria2Download(t *testing.T, h *netlab.Host, aria2 string, ca *testcert.CA, magnet string) []byte {
	t.Helper()
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := h.Command(ctx, aria2, "--dir", dir, "--ca-certificate", ca.CertFile, "--check-certificate=true",
		"--enable-dht=false", "--enable-dht6=false", "--bt-enable-lpd=false", "--enable-peer-exchange=false",
		"--seed-time=0", "--listen-port=6890", "--disable-ipv6=true", "--no-conf=true", "--bt-save-metadata=false",
		"--summary-interval=0", "--console-log-level=warn", "--bt-tracker-connect-timeout=10", "--bt-tracker-timeout=10",
		"--bt-stop-timeout=90", "--follow-torrent=mem", magnet)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("aria2c: %v\n%s", err, out)
	}
	var got []byte
	filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && !strings.HasSuffix(path, ".aria2") {
			got, _ = os.ReadFile(path)
		}
		return nil
	})
	if got == nil {
		t.Fatalf("aria2c wrote no file\n%s", out)
	}
	sum := sha256.Sum256(got)
	t.Logf("aria2c: %d bytes, sha256 %x", len(got), sum[:8])
	return got
}
