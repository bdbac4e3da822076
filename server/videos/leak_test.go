package videos

import (
	"bytes"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// internals matches what must never reach a user: file paths, dial errors,
// parser offsets, Go error prefixes of the standard library.
var internals = regexp.MustCompile(`(?i)(/tmp/|/uploads/|/videos/|/torrents/|\.go:\d|dial tcp|connect:|` +
	`no such file|permission denied|no space left|at \d+ has size|box "|offset \d|multipart:|` +
	`ERR_INTERNAL_SERVER_ERROR|unexpected EOF|videos: )`)

// checkNoInternals fails when an answer shows internals (or the data dir).
func checkNoInternals(t *testing.T, what string, dataDir string, status int, body []byte) {
	t.Helper()
	if m := internals.Find(body); m != nil {
		t.Errorf("%s: answer %d shows internals (%q): %s", what, status, m, body)
	}
	if dataDir != "" && bytes.Contains(body, []byte(dataDir)) {
		t.Errorf("%s: answer %d shows the data dir: %s", what, status, body)
	}
	if !bytes.HasPrefix(bytes.TrimSpace(body), []byte(`{"error":`)) && len(body) > 0 {
		t.Errorf("%s: answer %d is not the API's error shape: %s", what, status, body)
	}
}

// TestNoInternalsInAnswers sends a table of failing requests, each failing
// inside the pod in a different way, and scans the answers.
func TestNoInternalsInAnswers(t *testing.T) {
	p := newPod(t)
	fast, _ := clips(t)
	s, v, _ := p.upload("alice", "kept", "", fast)
	if s != http.StatusCreated {
		t.Fatalf("upload: %d", s)
	}

	truncated := fast[:len(fast)/3] // moov first, mdat cut: the MP4 parser reports box offsets
	for _, tc := range []struct {
		name   string
		req    func() (int, []byte)
		status int
	}{
		{"truncated MP4", func() (int, []byte) {
			body, ct := multipartBody(t, map[string]string{"name": "cut"}, "cut.mp4", truncated)
			resp, b := p.do("alice", "POST", "/api/v1/videos", body, map[string]string{"Content-Type": ct})
			return resp.StatusCode, b
		}, http.StatusUnsupportedMediaType},
		{"multipart cut short", func() (int, []byte) {
			body, ct := multipartBody(t, map[string]string{"name": "x"}, "x.mp4", fast)
			all, _ := readAll(body)
			resp, b := p.do("alice", "POST", "/api/v1/videos", bytes.NewReader(all[:len(all)/2]), map[string]string{"Content-Type": ct})
			return resp.StatusCode, b
		}, http.StatusBadRequest},
		{"torrent file gone", func() (int, []byte) {
			if err := os.Remove(filepath.Join(p.dir, "torrents", v.ID+".torrent")); err != nil {
				t.Fatal(err)
			}
			resp, b := p.do("", "GET", "/api/v1/videos/"+v.ID+"/torrent", nil, nil)
			return resp.StatusCode, b
		}, http.StatusInternalServerError},
		{"tus patch, upload info unreadable", func() (int, []byte) {
			resp, path := p.tusCreate("alice", 100, tusMeta("name", "garbled"))
			if resp.StatusCode != http.StatusCreated {
				t.Fatalf("create: %d", resp.StatusCode)
			}
			id := path[strings.LastIndexByte(path, '/')+1:]
			if err := os.WriteFile(filepath.Join(p.dir, "uploads", id+".info"), []byte("{not json"), 0o600); err != nil {
				t.Fatal(err)
			}
			r, b := p.do("alice", "PATCH", path, bytes.NewReader(make([]byte, 10)), map[string]string{
				"Tus-Resumable": "1.0.0", "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream",
			})
			return r.StatusCode, b
		}, http.StatusInternalServerError},
		{"tus upload info unreadable", func() (int, []byte) {
			resp, path := p.tusCreate("alice", 100, tusMeta("name", "garbled"))
			if resp.StatusCode != http.StatusCreated {
				t.Fatalf("create: %d", resp.StatusCode)
			}
			id := path[strings.LastIndexByte(path, '/')+1:]
			if err := os.WriteFile(filepath.Join(p.dir, "uploads", id+".info"), []byte("{not json"), 0o600); err != nil {
				t.Fatal(err)
			}
			r, b := p.do("alice", "POST", path+"/finish", nil, nil)
			return r.StatusCode, b
		}, http.StatusInternalServerError},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := tc.req()
			if status != tc.status {
				t.Errorf("status %d, want %d: %s", status, tc.status, body)
			}
			checkNoInternals(t, tc.name, p.dir, status, body)
		})
	}
}

func readAll(r interface{ Read([]byte) (int, error) }) ([]byte, error) {
	var buf bytes.Buffer
	_, err := buf.ReadFrom(r)
	return buf.Bytes(), err
}
