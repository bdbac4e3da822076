package httpx

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/swarmtube/swarmtube/server/api"
)

type payload struct {
	Name  string `json:"name"`
	Count int    `json:"count"`
}

var decodeMessages = map[string]string{
	"wrong type": `field "count" must be a whole number`,
	"array":      "the body must be a JSON object",
	// No parser offsets (issue 17: "malformed JSON at byte 2"), one
	// sentence whatever the parser stopped at.
	"malformed":   "the body is not valid JSON",
	"cut short":   "the body is not valid JSON",
	"bad literal": "the body is not valid JSON",
}

var decodeCases = []struct {
	name, contentType, body string
	status                  int // 0: decodes fine
}{
	{"ok", "application/json", `{"name":"a","count":2}`, 0},
	{"ok with charset", "application/json; charset=utf-8", `{"name":"a"}`, 0},
	{"no content type", "", `{"name":"a"}`, 0},
	{"vendor json", "application/merge-patch+json", `{"name":"a"}`, 0},
	{"form", "application/x-www-form-urlencoded", `name=a`, 415},
	{"garbled content type", "%%%", `{}`, 415},
	{"empty", "application/json", ``, 400},
	{"syntax", "application/json", `{"name":}`, 400},
	{"wrong type", "application/json", `{"count":"x"}`, 400},
	{"unknown field", "application/json", `{"nam":"a"}`, 400},
	{"trailing value", "application/json", `{} {}`, 400},
	{"trailing garbage", "application/json", `{}x`, 400},
	{"array", "application/json", `[1]`, 400},
	{"malformed", "application/json", `{"name": x`, 400},
	{"cut short", "application/json", `{"name":`, 400},
	{"bad literal", "application/json", `{"name":"a","count":tru}`, 400},
	{"too large", "application/json", `{"name":"` + strings.Repeat("a", 200) + `"}`, 413},
}

func TestDecodeJSON(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	for _, tc := range decodeCases {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/", strings.NewReader(tc.body))
			if tc.contentType != "" {
				r.Header.Set("Content-Type", tc.contentType)
			}
			w := httptest.NewRecorder()
			var p payload
			err := DecodeJSON(w, r, 100, &p)
			if tc.status == 0 {
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
				return
			}
			WriteError(w, r, log, err)
			if w.Code != tc.status {
				t.Fatalf("status %d, want %d (%v)", w.Code, tc.status, err)
			}
			var e api.Error
			if json.Unmarshal(w.Body.Bytes(), &e) != nil || e.Error == "" || e.Message == "" {
				t.Fatalf("bad error body %q", w.Body.String())
			}
			// JSON's words, not Go's ("must be a httpx.payload", "a int").
			if want, ok := decodeMessages[tc.name]; ok && e.Message != want {
				t.Errorf("message %q, want %q", e.Message, want)
			}
		})
	}
}

// FuzzDecodeJSON checks that no request body makes decoding panic or
// produce an error outside the API's 4xx error shape.
func FuzzDecodeJSON(f *testing.F) {
	for _, tc := range decodeCases {
		f.Add(tc.contentType, tc.body)
	}
	log := slog.New(slog.DiscardHandler)
	f.Fuzz(func(t *testing.T, contentType, body string) {
		r := httptest.NewRequest("POST", "/", strings.NewReader(body))
		r.Header.Set("Content-Type", contentType)
		w := httptest.NewRecorder()
		var p payload
		if err := DecodeJSON(w, r, 100, &p); err != nil {
			var he *Error
			if !errors.As(err, &he) || he.Status < 400 || he.Status >= 500 {
				t.Fatalf("decode error %v is not a 4xx *Error", err)
			}
			WriteError(w, r, log, err)
			if w.Code != he.Status {
				t.Fatalf("wrote %d for %v", w.Code, he)
			}
		}
	})
}

func TestRecoverAndObserve(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	reg := prometheus.NewRegistry()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /boom", func(http.ResponseWriter, *http.Request) { panic("bad input") })
	mux.HandleFunc("GET /fail", func(w http.ResponseWriter, r *http.Request) {
		WriteError(w, r, log, errors.New("disk on fire: /secret/path"))
	})
	h := Chain(mux, Recover(log), Observe(log, NewMetrics(reg)))

	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/boom", nil))
	if w.Code != 500 || !strings.Contains(w.Body.String(), `"internal"`) {
		t.Fatalf("panic: %d %s", w.Code, w.Body)
	}
	w = httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/fail", nil))
	if w.Code != 500 || strings.Contains(w.Body.String(), "secret") {
		t.Fatalf("internal error leaked or wrong status: %d %s", w.Code, w.Body)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, mf := range mfs {
		if mf.GetName() == "swarmtube_http_requests_total" {
			for _, m := range mf.GetMetric() {
				for _, l := range m.GetLabel() {
					if l.GetName() == "route" && l.GetValue() == "GET /fail" {
						found = true
					}
				}
			}
		}
	}
	if !found {
		t.Fatal("request metric not labelled by route pattern")
	}
}
