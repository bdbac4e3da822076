package pod

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/anacrolix/torrent/metainfo"
	"nhooyr.io/websocket"

	"github.com/swarmtube/swarmtube/internal/testcert"
	"github.com/swarmtube/swarmtube/internal/testenv"
	"github.com/swarmtube/swarmtube/server/api"
)

// smallClip is a 1 s MP4 made by ffmpeg.
func smallClip(t *testing.T) []byte {
	t.Helper()
	_, clip := testenv.MakeClip(t, testenv.Clip{Faststart: true})
	return clip
}

// TestServesHTTPS runs a pod with certificate files and checks that
// everything it publishes points at https and wss, that its session cookie
// is Secure, HSTS is sent, the WebSocket tracker works over TLS and the
// plain listener redirects.
func TestServesHTTPS(t *testing.T) {
	ca := testcert.NewCA(t)
	leaf := ca.Issue(t, "pod", time.Time{}, "127.0.0.1", "localhost")
	p := startInProcess(t, "--tls-cert", leaf.CertFile, "--tls-key", leaf.KeyFile, "--http-listen", "127.0.0.1:0", "--hsts", "8760h")
	base := p.URL()
	if !strings.HasPrefix(base, "https://127.0.0.1:") {
		t.Fatalf("pod URL %q, want https://127.0.0.1:<port>", base)
	}
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool()}, ForceAttemptHTTP2: true}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

	resp, err := client.Get(base + "/api/v1/pod")
	if err != nil {
		t.Fatal(err)
	}
	var info api.PodInfo
	json.NewDecoder(resp.Body).Decode(&info)
	resp.Body.Close()
	if info.URL != base || resp.Header.Get("Strict-Transport-Security") != "max-age=31536000" {
		t.Fatalf("pod info url %q, HSTS %q", info.URL, resp.Header.Get("Strict-Transport-Security"))
	}
	if resp.ProtoMajor != 2 {
		t.Errorf("served over %s, want HTTP/2 on TLS", resp.Proto)
	}

	resp, err = client.Post(base+"/api/v1/users/token", "application/json", strings.NewReader(`{"username":"admin","password":"admin-password"}`))
	if err != nil {
		t.Fatal(err)
	}
	var tok api.Token
	json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	if c := resp.Cookies(); len(c) != 1 || !c[0].Secure || !c[0].HttpOnly {
		t.Fatalf("login cookies %+v, want one Secure HttpOnly session cookie", c)
	}

	// A video published over https names https and wss everywhere.
	v := uploadVideo(t, client, base, tok.Token, "over tls", smallClip(t))
	wss := "wss" + strings.TrimPrefix(base, "https") + "/tracker/socket"
	announce := base + "/tracker/announce"
	if !strings.HasPrefix(v.TorrentURL, base+"/") || !strings.HasPrefix(v.WebseedURL, base+"/") || v.Pod != base {
		t.Errorf("video URLs %q %q %q, want them under %s", v.TorrentURL, v.WebseedURL, v.Pod, base)
	}
	mag, err := metainfo.ParseMagnetUri(v.Magnet)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(mag.Trackers, " ") != wss+" "+announce || !strings.Contains(v.Magnet, "ws="+url.QueryEscape(v.WebseedURL)) {
		t.Errorf("magnet %s: trackers %v, want %s and %s and ws= the https web seed", v.Magnet, mag.Trackers, wss, announce)
	}
	resp, err = client.Get(v.TorrentURL)
	if err != nil {
		t.Fatal(err)
	}
	mi, err := metainfo.Load(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	if got := mi.UpvertedAnnounceList(); len(got) != 2 || got[0][0] != wss || got[1][0] != announce || len(mi.UrlList) != 1 || mi.UrlList[0] != v.WebseedURL {
		t.Errorf("torrent announce-list %v, url-list %v", got, mi.UrlList)
	}

	// The WebSocket tracker answers over TLS.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	wsTr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool()}}
	defer wsTr.CloseIdleConnections()
	c, _, err := websocket.Dial(ctx, wss, &websocket.DialOptions{HTTPClient: &http.Client{Transport: wsTr}})
	if err != nil {
		t.Fatalf("wss tracker: %v", err)
	}
	defer c.CloseNow()
	if err := c.Write(ctx, websocket.MessageText, []byte(`{"action":"scrape"}`)); err != nil {
		t.Fatal(err)
	}
	if _, msg, err := c.Read(ctx); err != nil || !bytes.Contains(msg, []byte(`"scrape"`)) {
		t.Fatalf("scrape over wss: %s %v", msg, err)
	}
	c.Close(websocket.StatusNormalClosure, "")

	// The plain listener sends browsers to https.
	resp, err = client.Get("http://" + p.HTTPAddr().String() + "/videos/" + v.ID + "?t=3")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if want := base + "/videos/" + v.ID + "?t=3"; resp.StatusCode != http.StatusMovedPermanently || resp.Header.Get("Location") != want {
		t.Errorf("plain HTTP: %d %q, want 301 %q", resp.StatusCode, resp.Header.Get("Location"), want)
	}
}

// TestSecureBehindTrustedProxy: behind a TLS proxy the pod speaks plain
// HTTP; the session cookie is Secure and HSTS is sent when, and only when,
// a trusted proxy says the client used https.
func TestSecureBehindTrustedProxy(t *testing.T) {
	for _, tc := range []struct {
		name    string
		trusted string
		proto   string
		secure  bool
	}{
		{"trusted proxy, https", "127.0.0.1/32", "https", true},
		{"trusted proxy, http", "127.0.0.1/32", "http", false},
		{"untrusted peer claims https", "192.0.2.0/24", "https", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := startInProcess(t, "--url", "https://pod.example.org", "--trusted-proxies", tc.trusted, "--hsts", "1h")
			base := "http://" + p.Addr().String()
			req, _ := http.NewRequest("POST", base+"/api/v1/users/token", strings.NewReader(`{"username":"admin","password":"admin-password"}`))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("X-Forwarded-Proto", tc.proto)
			req.Header.Set("X-Forwarded-For", "198.51.100.7")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			c := resp.Cookies()
			if len(c) != 1 || c[0].Secure != tc.secure {
				t.Fatalf("cookies %+v, want one with Secure=%v", c, tc.secure)
			}
			if got := resp.Header.Get("Strict-Transport-Security") != ""; got != tc.secure {
				t.Fatalf("HSTS sent: %v, want %v", got, tc.secure)
			}
		})
	}
}

// TestLocalVideosFollowTheURL: a pod first run on plain HTTP and then
// restarted as https hands out its earlier videos with https/wss URLs, and
// the same info hash.
func TestLocalVideosFollowTheURL(t *testing.T) {
	data := t.TempDir()
	run := func(args ...string) (*Pod, func()) {
		return runPod(t, append([]string{"--listen", "127.0.0.1:0", "--data", data, "--turn-listen", "off"}, args...)...)
	}
	p, stop := run()
	tok := loginHTTP(t, p.URL(), "admin", "admin-password")
	before := uploadVideo(t, nil, p.URL(), tok, "before https", smallClip(t))
	if !strings.HasPrefix(before.WebseedURL, "http://") {
		t.Fatalf("upload: %+v", before)
	}
	stop()

	ca := testcert.NewCA(t)
	leaf := ca.Issue(t, "pod", time.Time{}, "127.0.0.1")
	p, stop = run("--tls-cert", leaf.CertFile, "--tls-key", leaf.KeyFile)
	defer stop()
	base := p.URL()
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool()}}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	resp, err := client.Get(base + "/api/v1/videos/" + before.ID)
	if err != nil {
		t.Fatal(err)
	}
	var after api.Video
	json.NewDecoder(resp.Body).Decode(&after)
	resp.Body.Close()
	wss := "wss" + strings.TrimPrefix(base, "https") + "/tracker/socket"
	if after.InfoHash != before.InfoHash || after.Pod != base || !strings.HasPrefix(after.WebseedURL, base+"/static/webseed/") ||
		!strings.HasPrefix(after.TorrentURL, base+"/") || !strings.Contains(after.Magnet, url.QueryEscape(wss)) {
		t.Fatalf("after the move to %s: %+v", base, after)
	}
	resp, err = client.Get(after.TorrentURL)
	if err != nil {
		t.Fatal(err)
	}
	mi, err := metainfo.Load(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	if got := mi.UpvertedAnnounceList(); mi.HashInfoBytes().HexString() != before.InfoHash || got[0][0] != wss || mi.UrlList[0] != after.WebseedURL {
		t.Fatalf("torrent after the move: hash %s, trackers %v, web seeds %v", mi.HashInfoBytes().HexString(), got, mi.UrlList)
	}
}
