package deploy

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/letsencrypt/pebble/v2/ca"
	"github.com/letsencrypt/pebble/v2/db"
	"github.com/letsencrypt/pebble/v2/va"
	"github.com/letsencrypt/pebble/v2/wfe"
	"github.com/miekg/dns"

	"github.com/swarmtube/swarmtube/server/api"
	"github.com/swarmtube/swarmtube/server/config"
	"github.com/swarmtube/swarmtube/server/pod"
)

// podName is the pod's DNS name in these tests; .test is reserved for
// testing (RFC 2606), and the test's DNS server answers it with 127.0.0.1.
const podName = "pod.swarmtube.test"

// TestACMEWithPebble obtains a real certificate for a pod from pebble,
// once through each challenge the pod answers (pebble validates only the
// one it can reach: the other port it is given is closed), then restarts
// the pod with the CA gone and checks the certificate comes from the cache
// in the data dir.
func TestACMEWithPebble(t *testing.T) {
	t.Setenv("PEBBLE_VA_NOSLEEP", "1")      // no random 0-15 s wait before each validation
	t.Setenv("PEBBLE_WFE_NONCEREJECT", "0") // no deliberately refused nonces (5% by default), each a retry
	dnsAddr := startDNS(t)
	for _, challenge := range []string{"http-01", "tls-alpn-01"} {
		t.Run(challenge, func(t *testing.T) {
			begin := time.Now()
			peb := newPebble(t)
			data := t.TempDir()
			args := []string{"--listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0", "--data", data,
				"--acme-domain", podName, "--acme-directory", peb.directory, "--acme-ca-roots", peb.rootsFile,
				"--acme-email", "admin@" + podName}
			p := startPod(t, args...)
			_, tlsPort := splitPort(t, p.Addr())
			_, httpPort := splitPort(t, p.HTTPAddr())
			closed := closedPort(t)
			if challenge == "http-01" {
				peb.start(t, dnsAddr, httpPort, closed)
			} else {
				peb.start(t, dnsAddr, closed, tlsPort)
			}

			// The first handshake naming the pod makes it get its certificate.
			info := getPodInfo(t, p, peb.roots)
			if info.URL != "https://"+podName+":"+strconv.Itoa(tlsPort) {
				t.Fatalf("pod info URL %q", info.URL)
			}
			t.Logf("certificate by %s and first answer in %v", challenge, time.Since(begin).Round(time.Millisecond))
			metrics := tlsGet(t, p, peb.roots, "/metrics")
			if !strings.Contains(metrics, `swarmtube_tls_certificate_not_after_seconds{name="`+podName+`"}`) {
				t.Error("/metrics lacks the expiry of the ACME certificate")
			}
			if _, err := os.Stat(filepath.Join(data, "acme", podName)); err != nil {
				t.Fatalf("no certificate cached under the data dir: %v", err)
			}
			// The plain listener still redirects what is not a challenge.
			resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).
				Get("http://" + p.HTTPAddr().String() + "/videos/x")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusMovedPermanently || loc != info.URL+"/videos/x" {
				t.Fatalf("plain HTTP: %d %q", resp.StatusCode, loc)
			}

			if challenge != "http-01" {
				return
			}
			// Restart on the same data dir with the CA refusing everything:
			// the cached certificate is served.
			stopPod(t, p)
			peb.fail.Store(true)
			p = startPod(t, args...)
			getPodInfo(t, p, peb.roots)
		})
	}
}

// getPodInfo fetches /api/v1/pod over TLS by the pod's name, trusting only
// roots.
func getPodInfo(t *testing.T, p *pod.Pod, roots *x509.CertPool) api.PodInfo {
	t.Helper()
	var info api.PodInfo
	if err := json.Unmarshal([]byte(tlsGet(t, p, roots, "/api/v1/pod")), &info); err != nil {
		t.Fatalf("pod info: %v", err)
	}
	return info
}

// tlsGet fetches path over TLS by the pod's name, trusting only roots, and
// checks the certificate is for that name.
func tlsGet(t *testing.T, p *pod.Pod, roots *x509.CertPool, path string) string {
	t.Helper()
	addr := p.Addr().String()
	tr := &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: roots},
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, addr) // the name resolves to the pod
		},
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 2 * time.Minute}
	resp, err := client.Get(p.URL() + path)
	if err != nil {
		t.Fatalf("GET %s%s: %v", p.URL(), path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %v", path, resp.StatusCode, err)
	}
	if cs := resp.TLS; cs == nil || cs.PeerCertificates[0].DNSNames[0] != podName {
		t.Fatalf("served certificate is not for %s", podName)
	}
	return string(body)
}

// pebbleCA is Let's Encrypt's test ACME server, in-process. Its directory
// is served over TLS by httptest, whose certificate the pod is told to
// trust with --acme-ca-roots; its VA is made by start, once the pod's
// ports are known.
type pebbleCA struct {
	srv       *httptest.Server
	handler   atomic.Pointer[http.Handler]
	fail      atomic.Bool // answer 503 to everything, as a CA that is down
	directory string
	rootsFile string
	roots     *x509.CertPool // pebble's issuing root, for clients of the pod
}

func newPebble(t *testing.T) *pebbleCA {
	t.Helper()
	pc := &pebbleCA{}
	pc.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := pc.handler.Load()
		if h == nil || pc.fail.Load() {
			http.Error(w, "pebble is down", http.StatusServiceUnavailable)
			return
		}
		(*h).ServeHTTP(w, r)
	}))
	pc.srv.StartTLS()
	t.Cleanup(pc.srv.Close)
	pc.directory = pc.srv.URL + wfe.DirectoryPath
	pc.rootsFile = filepath.Join(t.TempDir(), "pebble-https.pem")
	der := pc.srv.Certificate().Raw
	if err := os.WriteFile(pc.rootsFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return pc
}

// start makes pebble's CA, VA (validating http-01 on httpPort and
// tls-alpn-01 on tlsPort of whatever the DNS server at dnsAddr answers)
// and web front end.
func (pc *pebbleCA) start(t *testing.T, dnsAddr string, httpPort, tlsPort int) {
	t.Helper()
	// Discarded: pebble's VA goroutine outlives the test and may log later.
	logger := log.New(io.Discard, "pebble ", 0)
	store := db.NewMemoryStore()
	authority := ca.New(logger, store, "", "ecdsa", 0, 1, map[string]ca.Profile{"default": {Description: "default"}})
	validator := va.New(logger, httpPort, tlsPort, false, dnsAddr, store)
	front := wfe.New(logger, store, validator, authority, []string{"pebble.letsencrypt.org"}, false, false, 0, 0)
	h := front.Handler()
	pc.handler.Store(&h)
	pc.roots = x509.NewCertPool()
	pc.roots.AddCert(authority.GetRootCert(0).Cert)
}

// startDNS answers every A question with 127.0.0.1 and every other one
// with no records, over TCP (how pebble's VA asks).
func startDNS(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &dns.Server{Listener: ln, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, q *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(q)
		for _, question := range q.Question {
			if question.Qtype == dns.TypeA {
				m.Answer = append(m.Answer, &dns.A{
					Hdr: dns.RR_Header{Name: question.Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60},
					A:   net.IPv4(127, 0, 0, 1),
				})
			}
		}
		_ = w.WriteMsg(m)
	})}
	go func() { _ = srv.ActivateAndServe() }()
	t.Cleanup(func() { _ = srv.Shutdown() })
	return ln.Addr().String()
}

// startPod runs a pod in-process until stopPod or the end of the test.
func startPod(t *testing.T, args ...string) *pod.Pod {
	t.Helper()
	args = append([]string{"--admin-password", "admin-password", "--turn-listen", "off"}, args...)
	cfg, err := config.Parse(args, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	lg := slog.New(slog.DiscardHandler)
	if testing.Verbose() {
		lg = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	p, err := pod.New(cfg, lg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	stops[p] = func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("pod run: %v", err)
		}
	}
	t.Cleanup(func() { stopPod(t, p) })
	return p
}

var stops = map[*pod.Pod]func(){} // test goroutine only

func stopPod(t *testing.T, p *pod.Pod) {
	if stop, ok := stops[p]; ok {
		delete(stops, p)
		stop()
	}
}

func splitPort(t *testing.T, a net.Addr) (string, int) {
	t.Helper()
	tcp, ok := a.(*net.TCPAddr)
	if !ok {
		t.Fatalf("address %v is not TCP", a)
	}
	return tcp.IP.String(), tcp.Port
}

// closedPort returns a loopback port nothing listens on.
func closedPort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	return port
}

// testWriter sends a component's log lines to the test log (-v only).
type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(b), "\n"))
	return len(b), nil
}
