package podtls

import (
	"crypto/tls"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/swarmtube/swarmtube/internal/testcert"
)

// TestFileCertReload: a renewed pair replaces the served certificate at
// the next look, a half-written renewal keeps the old one in service.
func TestFileCertReload(t *testing.T) {
	ca := testcert.NewCA(t)
	first := ca.Issue(t, "pod", time.Time{}, "pod.example.org")
	reg := prometheus.NewRegistry()
	p, err := New(Config{CertFile: first.CertFile, KeyFile: first.KeyFile, PublicURL: "https://pod.example.org"}, slog.New(slog.DiscardHandler), reg)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	now := time.Now()
	fc := p.fileCertForTest(func() time.Time { mu.Lock(); defer mu.Unlock(); return now })
	advance := func() { mu.Lock(); now = now.Add(2 * time.Minute); mu.Unlock() }
	serial := func() string {
		t.Helper()
		c, err := p.TLSConfig().GetCertificate(&tls.ClientHelloInfo{ServerName: "pod.example.org"})
		if err != nil {
			t.Fatal(err)
		}
		return c.Leaf.SerialNumber.String()
	}
	if got := serial(); got != first.Cert.SerialNumber.String() {
		t.Fatalf("serving %s, want the first certificate", got)
	}
	if got := testutil.ToFloat64(p.notAfter.WithLabelValues("pod.example.org")); got != float64(first.Cert.NotAfter.Unix()) {
		t.Fatalf("not_after metric %v, want %d", got, first.Cert.NotAfter.Unix())
	}

	second := ca.Issue(t, "pod", time.Now().Add(48*time.Hour), "pod.example.org")
	if got := serial(); got != first.Cert.SerialNumber.String() {
		t.Fatal("files were looked at again before the recheck interval")
	}
	advance()
	if got := serial(); got != second.Cert.SerialNumber.String() {
		t.Fatalf("serving %s after renewal, want %s", got, second.Cert.SerialNumber)
	}
	if got := testutil.ToFloat64(p.notAfter.WithLabelValues("pod.example.org")); got != float64(second.Cert.NotAfter.Unix()) {
		t.Fatalf("not_after metric %v after renewal", got)
	}

	// A renewal caught half-way: a new certificate whose key is not there yet.
	third := ca.Issue(t, "next", time.Time{}, "pod.example.org")
	data, _ := os.ReadFile(third.CertFile)
	if err := os.WriteFile(fc.certFile, data, 0o600); err != nil {
		t.Fatal(err)
	}
	advance()
	if got := serial(); got != second.Cert.SerialNumber.String() {
		t.Fatalf("serving %s with mismatched files, want the previous %s", got, second.Cert.SerialNumber)
	}
	data, _ = os.ReadFile(third.KeyFile)
	if err := os.WriteFile(fc.keyFile, data, 0o600); err != nil {
		t.Fatal(err)
	}
	advance()
	if got := serial(); got != third.Cert.SerialNumber.String() {
		t.Fatalf("serving %s once the key arrived, want %s", got, third.Cert.SerialNumber)
	}
}

func TestNewRefuses(t *testing.T) {
	ca := testcert.NewCA(t)
	a := ca.Issue(t, "a", time.Time{}, "pod.example.org")
	b := ca.Issue(t, "b", time.Time{}, "pod.example.org")
	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{"nothing", Config{PublicURL: "https://pod.example.org"}},
		{"http url", Config{CertFile: a.CertFile, KeyFile: a.KeyFile, PublicURL: "http://pod.example.org"}},
		{"mismatch", Config{CertFile: a.CertFile, KeyFile: b.KeyFile, PublicURL: "https://pod.example.org"}},
		{"both", Config{CertFile: a.CertFile, KeyFile: a.KeyFile, ACMEDomains: []string{"pod.example.org"}, PublicURL: "https://pod.example.org"}},
	} {
		if _, err := New(tc.cfg, slog.New(slog.DiscardHandler), nil); err == nil {
			t.Errorf("%s: New accepted %+v", tc.name, tc.cfg)
		}
	}
}

// TestRedirect: the plain listener sends every request to the same path
// under the public URL, whatever Host it named.
func TestRedirect(t *testing.T) {
	ca := testcert.NewCA(t)
	a := ca.Issue(t, "a", time.Time{}, "pod.example.org")
	p, err := New(Config{CertFile: a.CertFile, KeyFile: a.KeyFile, PublicURL: "https://pod.example.org:8443"}, slog.New(slog.DiscardHandler), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		method, target, host string
		code                 int
		location             string
	}{
		{"GET", "/videos/abc?t=10", "pod.example.org", 301, "https://pod.example.org:8443/videos/abc?t=10"},
		{"HEAD", "/", "evil.example", 301, "https://pod.example.org:8443/"},
		{"GET", "http://evil.example/x%20y", "evil.example", 301, "https://pod.example.org:8443/x%20y"},
		{"POST", "/api/v1/users/token", "pod.example.org", 308, "https://pod.example.org:8443/api/v1/users/token"},
		{"OPTIONS", "*", "pod.example.org", 308, "https://pod.example.org:8443/"},
	} {
		r := httptest.NewRequest(tc.method, "http://pod.example.org/", nil)
		r.RequestURI = tc.target
		u, err := url.ParseRequestURI(tc.target)
		if err != nil {
			t.Fatal(err)
		}
		r.URL, r.Host = u, tc.host
		w := httptest.NewRecorder()
		p.HTTPHandler().ServeHTTP(w, r)
		if w.Code != tc.code || w.Header().Get("Location") != tc.location {
			t.Errorf("%s %s (Host %s): %d %q, want %d %q", tc.method, tc.target, tc.host, w.Code, w.Header().Get("Location"), tc.code, tc.location)
		}
	}
}

func TestHSTS(t *testing.T) {
	h := HSTS(365*24*time.Hour, func(r *http.Request) bool { return r.TLS != nil })(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	plain := httptest.NewRequest("GET", "http://pod.example.org/", nil)
	secure := httptest.NewRequest("GET", "https://pod.example.org/", nil)
	for _, tc := range []struct {
		r    *http.Request
		want string
	}{{plain, ""}, {secure, "max-age=31536000"}} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, tc.r)
		if got := w.Header().Get("Strict-Transport-Security"); got != tc.want {
			t.Errorf("%s: Strict-Transport-Security %q, want %q", tc.r.URL, got, tc.want)
		}
	}
}

// fileCertForTest swaps the provider's clock and returns its file loader.
func (p *Provider) fileCertForTest(now func() time.Time) *fileCert {
	fc := p.files
	fc.mu.Lock()
	fc.now = now
	fc.checked = now()
	fc.mu.Unlock()
	return fc
}
