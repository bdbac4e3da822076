package testenv

import (
	"bytes"
	"encoding/json"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
)

// ProbeTargets starts the three kinds of local service a server-side
// request forgery names (issue 14, attack 5), all on 127.0.0.1 and stopped
// with the test: open answers every request with the JSON of answer(r)
// and counts requests in hits; closed is a port nothing listens on;
// hanging accepts connections and never answers.
func ProbeTargets(t testing.TB, answer func(*http.Request) any) (open, closed, hanging string, hits *atomic.Int64) {
	t.Helper()
	hits = new(atomic.Int64)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(answer(r))
	}))
	t.Cleanup(srv.Close)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed = "http://" + ln.Addr().String()
	ln.Close()
	return srv.URL, closed, HangingServer(t, nil), hits
}

// HangingServer returns the http URL of a loopback listener that accepts
// connections and never answers, counting them in conns if not nil; the
// connections are closed with the test.
func HangingServer(t testing.TB, conns *atomic.Int64) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var held []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			if conns != nil {
				conns.Add(1)
			}
			mu.Lock()
			held = append(held, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
		mu.Lock()
		for _, c := range held {
			c.Close()
		}
		mu.Unlock()
	})
	return "http://" + ln.Addr().String()
}

// CallAPI sends one request to a pod's API through c, with token as its
// bearer token unless empty, and decodes the JSON answer into out unless
// nil. It fails the test on a transport error, a status other than 2xx
// or an answer that does not decode.
func CallAPI(t testing.TB, c *http.Client, method, url, token, contentType string, body io.Reader, out any) {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode/100 != 2 {
		t.Fatalf("%s %s: %s %s (%v)", method, url, resp.Status, data, err)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("%s %s: decode %q: %v", method, url, data, err)
		}
	}
}

// Login asks a pod for an API token (POST /api/v1/users/token) through c,
// as CallAPI does, and returns it.
func Login(t testing.TB, c *http.Client, base, user, pass string) string {
	t.Helper()
	creds, _ := json.Marshal(map[string]string{"username": user, "password": pass})
	var tok struct{ Token string }
	CallAPI(t, c, "POST", base+"/api/v1/users/token", "", "application/json", bytes.NewReader(creds), &tok)
	if tok.Token == "" {
		t.Fatalf("login %s on %s: no token", user, base)
	}
	return tok.Token
}

// Upload posts a video to a pod's simple upload route (POST
// /api/v1/videos, a multipart form of name, description unless empty, and
// file, named filename, holding data) through c, as the bearer of token,
// and decodes the answer (201 with the video published, or 202 while it
// is being transcoded) into out, as CallAPI does.
func Upload(t testing.TB, c *http.Client, base, token, name, description, filename string, data []byte, out any) {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	_ = mw.WriteField("name", name)
	if description != "" {
		_ = mw.WriteField("description", description)
	}
	fw, err := mw.CreateFormFile("file", filename)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = fw.Write(data)
	if err := mw.Close(); err != nil {
		t.Fatal(err)
	}
	CallAPI(t, c, "POST", base+"/api/v1/videos", token, mw.FormDataContentType(), &body, out)
}
