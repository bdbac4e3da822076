package pod

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/swarmtube/swarmtube/internal/testenv"
)

// internals is what must never reach a user (issues 14 and 17.7): paths,
// dial errors, parser offsets, Go error prefixes.
var internals = regexp.MustCompile(`(?i)(/tmp/|/uploads/|/torrents/|\.go:\d|dial tcp|connect:|no such file|` +
	`no space left|permission denied|at \d+ has size|box "|multipart:|unexpected EOF|ERR_INTERNAL|invalid character|goroutine )`)

// TestNoInternalsReachUsers sends a real pod a table of requests that fail
// inside it in different ways (a friend that refuses connections, a cut
// MP4, a damaged resumable upload, malformed JSON, unknown files) and scans
// every answer for internals and for the data directory's path.
func TestNoInternalsReachUsers(t *testing.T) {
	p := startInProcess(t, "--federation-allow-private")
	base := p.URL()
	do := func(method, path, token string, body io.Reader, hdr map[string]string) (int, []byte) {
		t.Helper()
		req, err := http.NewRequest(method, base+path, body)
		if err != nil {
			t.Fatal(err)
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	_, tb := do("POST", "/api/v1/users/token", "", strings.NewReader(`{"username":"admin","password":"admin-password"}`), map[string]string{"Content-Type": "application/json"})
	var tok struct{ Token string }
	if err := json.Unmarshal(tb, &tok); err != nil || tok.Token == "" {
		t.Fatalf("login: %s", tb)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + ln.Addr().String()
	ln.Close()
	_, clip := testenv.MakeClip(t, testenv.Clip{Seconds: 2, Faststart: true})
	form := func(file []byte) (io.Reader, map[string]string) {
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		mw.WriteField("name", "cut")
		fw, _ := mw.CreateFormFile("file", "cut.mp4")
		fw.Write(file)
		mw.Close()
		return &buf, map[string]string{"Content-Type": mw.FormDataContentType()}
	}
	meta := "name " + base64.StdEncoding.EncodeToString([]byte("damaged"))

	for _, tc := range []struct {
		name string
		req  func() (int, []byte)
	}{
		{"makefriends with a closed port", func() (int, []byte) {
			return do("POST", "/api/v1/pods/makefriends", tok.Token, strings.NewReader(`{"pods":["`+closed+`"]}`), map[string]string{"Content-Type": "application/json"})
		}},
		{"truncated MP4", func() (int, []byte) {
			body, hdr := form(clip[:len(clip)/3])
			return do("POST", "/api/v1/videos", tok.Token, body, hdr)
		}},
		{"multipart cut short", func() (int, []byte) {
			body, hdr := form(clip)
			all, _ := io.ReadAll(body)
			return do("POST", "/api/v1/videos", tok.Token, bytes.NewReader(all[:len(all)/2]), hdr)
		}},
		{"damaged resumable upload", func() (int, []byte) {
			req, _ := http.NewRequest("POST", base+"/api/v1/videos/uploads/", nil)
			req.Header.Set("Authorization", "Bearer "+tok.Token)
			req.Header.Set("Tus-Resumable", "1.0.0")
			req.Header.Set("Upload-Length", "100")
			req.Header.Set("Upload-Metadata", meta)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			loc := resp.Header.Get("Location")
			id := loc[strings.LastIndexByte(loc, '/')+1:]
			if resp.StatusCode != http.StatusCreated || id == "" {
				t.Fatalf("create: %d %q", resp.StatusCode, loc)
			}
			if err := os.WriteFile(filepath.Join(p.cfg.DataDir, "uploads", id+".info"), []byte("{garbage"), 0o600); err != nil {
				t.Fatal(err)
			}
			return do("PATCH", "/api/v1/videos/uploads/"+id, tok.Token, bytes.NewReader(clip[:100]), map[string]string{
				"Tus-Resumable": "1.0.0", "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"})
		}},
		{"malformed JSON", func() (int, []byte) {
			return do("POST", "/api/v1/users/token", "", strings.NewReader(`{"username": x`), map[string]string{"Content-Type": "application/json"})
		}},
		{"unknown web seed file", func() (int, []byte) { return do("GET", "/static/webseed/nope.mp4", "", nil, nil) }},
		{"unknown video", func() (int, []byte) { return do("GET", "/api/v1/videos/aaaaaaaaaaaaaaaa", "", nil, nil) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := tc.req()
			t.Logf("%d %s", status, bytes.TrimSpace(body))
			if status < 400 && tc.name != "makefriends with a closed port" {
				t.Errorf("status %d: the request should have failed: %s", status, body)
			}
			if m := internals.Find(body); m != nil {
				t.Errorf("answer %d shows internals (%q): %s", status, m, body)
			}
			if bytes.Contains(body, []byte(p.cfg.DataDir)) {
				t.Errorf("answer %d shows the data dir: %s", status, body)
			}
		})
	}
}

// TestWebseedPreflightWired: the pod mounts the web seed's CORS preflight
// (issue 14 A), through its whole middleware chain.
func TestWebseedPreflightWired(t *testing.T) {
	p := startInProcess(t)
	req, _ := http.NewRequest(http.MethodOptions, p.URL()+"/static/webseed/abcdefghijklmnop.mp4", nil)
	req.Header.Set("Origin", "http://friend.example:9002")
	req.Header.Set("Access-Control-Request-Method", "GET")
	req.Header.Set("Access-Control-Request-Headers", "range, if-range, cache-control")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	h := resp.Header
	if resp.StatusCode != http.StatusNoContent || h.Get("Access-Control-Allow-Origin") != "*" ||
		!strings.Contains(h.Get("Access-Control-Allow-Methods"), "GET") ||
		!strings.Contains(strings.ToLower(h.Get("Access-Control-Allow-Headers")), "if-range") {
		t.Fatalf("preflight: %d %v", resp.StatusCode, h)
	}
}
