package videos

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	tushandler "github.com/tus/tusd/v2/pkg/handler"

	"github.com/swarmtube/swarmtube/internal/testenv"
	"github.com/swarmtube/swarmtube/server/api"
)

func tusMeta(kv ...string) string {
	var parts []string
	for i := 0; i+1 < len(kv); i += 2 {
		parts = append(parts, kv[i]+" "+base64.StdEncoding.EncodeToString([]byte(kv[i+1])))
	}
	return strings.Join(parts, ",")
}

// tusCreate creates an upload and returns the response and upload path.
func (p *pod) tusCreate(user string, length int, meta string) (*http.Response, string) {
	p.t.Helper()
	resp, _ := p.do(user, "POST", UploadsPath, nil, map[string]string{
		"Tus-Resumable": "1.0.0", "Upload-Length": strconv.Itoa(length), "Upload-Metadata": meta,
	})
	loc := resp.Header.Get("Location")
	if loc != "" && !strings.HasPrefix(loc, UploadsPath) {
		// Absolute, it would name the scheme and host the pod saw, which
		// behind a TLS proxy are not the client's.
		p.t.Errorf("Location %q, want a path under %s", loc, UploadsPath)
	}
	return resp, loc
}

func (p *pod) tusOffset(user, path string) (int, int) {
	p.t.Helper()
	resp, _ := p.do(user, "HEAD", path, nil, map[string]string{"Tus-Resumable": "1.0.0"})
	off, _ := strconv.Atoi(resp.Header.Get("Upload-Offset"))
	return resp.StatusCode, off
}

func (p *pod) tusPatch(user, path string, offset int, data []byte) *http.Response {
	p.t.Helper()
	resp, _ := p.do(user, "PATCH", path, bytes.NewReader(data), map[string]string{
		"Tus-Resumable": "1.0.0", "Upload-Offset": strconv.Itoa(offset), "Content-Type": "application/offset+octet-stream",
	})
	return resp
}

func (p *pod) tusFinish(user, path, body string) (int, api.Video, string) {
	p.t.Helper()
	var h map[string]string
	var r *strings.Reader
	if body != "" {
		h = map[string]string{"Content-Type": "application/json"}
		r = strings.NewReader(body)
	}
	var resp *http.Response
	var b []byte
	if r != nil {
		resp, b = p.do(user, "POST", path+"/finish", r, h)
	} else {
		resp, b = p.do(user, "POST", path+"/finish", nil, h)
	}
	var v api.Video
	var e api.Error
	if resp.StatusCode == http.StatusCreated {
		if err := json.Unmarshal(b, &v); err != nil {
			p.t.Fatal(err)
		}
	} else if err := json.Unmarshal(b, &e); err != nil {
		p.t.Fatalf("finish %d: %s", resp.StatusCode, b)
	}
	return resp.StatusCode, v, e.Error
}

// TestTusInterruptedAndResumed cuts a PATCH mid-body at the TCP level, then
// resumes from the offset the pod reports, finishes and checks the result.
func TestTusInterruptedAndResumed(t *testing.T) {
	_, slow := clips(t)
	p := newPod(t)
	resp, path := p.tusCreate("alice", len(slow), tusMeta("name", "Resumed <i>clip</i>", "description", "sent in two parts", "filename", "../../etc/passwd"))
	if resp.StatusCode != http.StatusCreated || !strings.HasPrefix(path, UploadsPath) {
		t.Fatalf("create: %d %q", resp.StatusCode, path)
	}
	uploadID := strings.TrimPrefix(path, UploadsPath)
	if !validUploadID(uploadID) {
		t.Fatalf("upload id %q", uploadID)
	}

	// Send half the body of a PATCH that announced all of it, then hang up.
	half := len(slow) / 2
	conn, err := net.Dial("tcp", p.srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(conn, "PATCH %s HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nTus-Resumable: 1.0.0\r\n"+
		"Content-Type: application/offset+octet-stream\r\nUpload-Offset: 0\r\nContent-Length: %d\r\n\r\n",
		path, p.srv.Listener.Addr(), p.tokens["alice"], len(slow))
	if _, err := conn.Write(slow[:half]); err != nil {
		t.Fatal(err)
	}
	// Closing delivers the half already written before the FIN: the pod
	// reads it, then an early EOF.
	conn.Close()

	var off int
	testenv.Eventually(t, 10*time.Second, "the offset to advance", func() bool {
		var status int
		status, off = p.tusOffset("alice", path)
		return status == http.StatusOK && off > 0
	})
	if off > half {
		t.Fatalf("offset %d beyond the %d bytes sent", off, half)
	}
	// Not complete yet; not someone else's business.
	if s, _, code := p.tusFinish("alice", path, ""); s != http.StatusConflict || code != "upload_incomplete" {
		t.Fatalf("early finish: %d %s", s, code)
	}
	if s, _ := p.tusOffset("bob", path); s != http.StatusForbidden {
		t.Fatalf("bob HEAD: %d", s)
	}
	if r := p.tusPatch("bob", path, off, slow[off:]); r.StatusCode != http.StatusForbidden {
		t.Fatalf("bob PATCH: %d", r.StatusCode)
	}
	if r := p.tusPatch("alice", path, off, slow[off:]); r.StatusCode != http.StatusNoContent {
		t.Fatalf("resume PATCH: %d", r.StatusCode)
	}
	if s, _, _ := p.tusFinish("bob", path, ""); s != http.StatusForbidden {
		t.Fatalf("bob finish: %d", s)
	}
	s, v, code := p.tusFinish("alice", path, `{"description":"overridden"}`)
	if s != http.StatusCreated {
		t.Fatalf("finish: %d %s", s, code)
	}
	if v.Name != "Resumed <i>clip</i>" || v.Description != "overridden" || v.Owner != "alice" {
		t.Fatalf("video %+v", v)
	}
	// Same pipeline as multipart: moov moved to the front.
	if v.Size != int64(len(slow)) { // no offset widening for a small file
		t.Fatalf("size %d", v.Size)
	}
	if f := p.files("uploads"); len(f) != 0 {
		t.Fatalf("upload files left: %v", f)
	}
	if s, _, code := p.tusFinish("alice", path, ""); s != http.StatusNotFound || code != "upload_not_found" {
		t.Fatalf("second finish: %d %s", s, code)
	}
	if f := p.files("videos"); len(f) != 1 || f[0] != v.ID+".mp4" {
		t.Fatalf("videos/: %v", f)
	}
}

func TestTusRefused(t *testing.T) {
	fast, _ := clips(t)
	p := newPod(t, withMaxSize(1<<20))
	cases := []struct {
		name, user string
		length     int
		meta       string
		status     int
	}{
		{"too large", "alice", 2 << 20, tusMeta("name", "x"), http.StatusRequestEntityTooLarge},
		{"empty", "alice", 0, tusMeta("name", "x"), http.StatusBadRequest},
		{"bad name", "alice", 10, tusMeta("name", "a\x1bb"), http.StatusBadRequest},
		{"bad description", "alice", 10, tusMeta("name", "ok", "description", "\u202e"), http.StatusBadRequest},
		{"no right", "carol", 10, tusMeta("name", "x"), http.StatusForbidden},
		{"anonymous", "", 10, tusMeta("name", "x"), http.StatusUnauthorized},
		// tusd skipped malformed pairs: the upload lost its name unsaid.
		{"metadata not base64", "alice", 10, "name Élan", http.StatusBadRequest},
		{"metadata key twice", "alice", 10, tusMeta("name", "x", "name", "y"), http.StatusBadRequest},
		{"metadata empty pair", "alice", 10, tusMeta("name", "x") + ",", http.StatusBadRequest},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, _ := p.tusCreate(tc.user, tc.length, tc.meta)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.status)
			}
			if f := p.files("uploads"); len(f) != 0 {
				t.Fatalf("left on disk: %v", f)
			}
		})
	}

	// A text file is refused by its first PATCH and deleted.
	text := []byte("this is a text file named video.mp4")
	_, path := p.tusCreate("alice", len(text), tusMeta("name", "x", "filename", "video.mp4"))
	if r := p.tusPatch("alice", path, 0, text); r.StatusCode != http.StatusUnsupportedMediaType {
		t.Fatalf("patch: %d", r.StatusCode)
	}
	if s, _, code := p.tusFinish("alice", path, ""); s != http.StatusNotFound || code != "upload_not_found" {
		t.Fatalf("finish text: %d %s", s, code)
	}
	if f := p.files("uploads"); len(f) != 0 {
		t.Fatalf("refused upload left: %v", f)
	}

	// A name error at finish keeps the upload, so finish can be retried.
	_, path = p.tusCreate("alice", len(fast), "")
	if r := p.tusPatch("alice", path, 0, fast); r.StatusCode != http.StatusNoContent {
		t.Fatalf("patch: %d", r.StatusCode)
	}
	if s, _, code := p.tusFinish("alice", path, ""); s != http.StatusBadRequest || code != "invalid_name" {
		t.Fatalf("finish without name: %d %s", s, code)
	}
	if s, v, code := p.tusFinish("alice", path, `{"name":"named at last"}`); s != http.StatusCreated || v.Name != "named at last" {
		t.Fatalf("finish retry: %d %s", s, code)
	}

	// Termination by the owner only; malformed ids and method override refused.
	_, path = p.tusCreate("alice", 100, tusMeta("name", "x"))
	if r, _ := p.do("bob", "DELETE", path, nil, map[string]string{"Tus-Resumable": "1.0.0"}); r.StatusCode != http.StatusForbidden {
		t.Fatalf("bob delete: %d", r.StatusCode)
	}
	for _, target := range []string{path, UploadsPath} {
		r, _ := p.do("bob", "POST", target, nil, map[string]string{"Tus-Resumable": "1.0.0", "X-HTTP-Method-Override": "DELETE"})
		if r.StatusCode != http.StatusBadRequest && r.StatusCode != http.StatusMethodNotAllowed {
			t.Fatalf("override on %s: %d", target, r.StatusCode)
		}
	}
	if s, _ := p.tusOffset("alice", path); s != http.StatusOK {
		t.Fatalf("upload gone after refused override: %d", s)
	}
	if r, _ := p.do("alice", "DELETE", path, nil, map[string]string{"Tus-Resumable": "1.0.0"}); r.StatusCode != http.StatusNoContent {
		t.Fatalf("delete: %d", r.StatusCode)
	}
	if f := p.files("uploads"); len(f) != 0 {
		t.Fatalf("terminated upload left: %v", f)
	}
	for _, bad := range []string{"..%2f..%2fpod.db", "short", strings.Repeat("A", uploadIDLen)} {
		if r := p.tusPatch("alice", UploadsPath+bad, 0, []byte("x")); r.StatusCode != http.StatusNotFound {
			t.Fatalf("patch %q: %d", bad, r.StatusCode)
		}
	}
}

// FuzzUploadMetadata feeds arbitrary Upload-Metadata headers through tusd's
// parser and the pod's checks: never a panic, and whatever is kept is valid.
func FuzzUploadMetadata(f *testing.F) {
	f.Add(tusMeta("name", "Élan", "description", "d", "filename", "a.mp4"), int64(10))
	f.Add(tusMeta("name", "a\x1bb"), int64(1))
	f.Add("name,description !!!,filename", int64(0))
	f.Add(tusMeta("owner", "admin", "name", "x"), int64(5))
	f.Fuzz(func(t *testing.T, header string, size int64) {
		meta, err := uploadMetadata(tushandler.ParseMetadataHeader(header), size)
		if err != nil {
			if !answered4xx(err) {
				t.Fatalf("non-4xx error %v", err)
			}
			return
		}
		if _, ok := meta[metaOwner]; ok {
			t.Fatal("client chose the owner")
		}
		if n, ok := meta[metaName]; ok {
			if c, err := cleanName(n); err != nil || c != n {
				t.Fatalf("kept invalid name %q", n)
			}
		}
		if d, ok := meta[metaDescription]; ok {
			if c, err := cleanDescription(d); err != nil || c != d {
				t.Fatalf("kept invalid description %q", d)
			}
		}
	})
}
