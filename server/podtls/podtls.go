package podtls

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/crypto/acme"
	"golang.org/x/crypto/acme/autocert"
)

// Config says where certificates come from: files (CertFile and KeyFile)
// or ACME (ACMEDomains), never both.
type Config struct {
	CertFile, KeyFile string

	ACMEDomains   []string       // lower-case host names to obtain certificates for
	ACMEDirectory string         // directory URL; "" is Let's Encrypt's production CA
	ACMEEmail     string         // contact given to the CA; may be empty
	ACMERoots     *x509.CertPool // roots for the CA's own HTTPS; nil: the system's
	CacheDir      string         // where ACME keeps its account key and certificates

	// PublicURL is the pod's https base URL (no trailing slash): the plain
	// HTTP listener redirects there.
	PublicURL string
}

// Provider serves the pod's certificates. It is safe for concurrent use.
type Provider struct {
	cfg       Config
	log       *slog.Logger
	tlsConfig *tls.Config
	plain     http.Handler
	files     *fileCert // nil with ACME
	notAfter  *prometheus.GaugeVec

	warnMu   sync.Mutex // guards the following field
	lastWarn map[string]time.Time
}

// New checks cfg and prepares the certificates; certificate files are
// read now (an error names the file and what is wrong), ACME certificates
// on the first handshake naming each domain. reg may be nil.
func New(cfg Config, log *slog.Logger, reg prometheus.Registerer) (*Provider, error) {
	p := &Provider{
		cfg: cfg, log: log, lastWarn: map[string]time.Time{},
		notAfter: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "swarmtube_tls_certificate_not_after_seconds",
			Help: "Expiry (Unix seconds) of the TLS certificate served for each name.",
		}, []string{"name"}),
	}
	if !strings.HasPrefix(cfg.PublicURL, "https://") || strings.HasSuffix(cfg.PublicURL, "/") {
		return nil, fmt.Errorf("podtls: public URL %q is not an https base URL", cfg.PublicURL)
	}
	redirect := http.HandlerFunc(p.redirect)
	switch {
	case cfg.CertFile != "" && len(cfg.ACMEDomains) > 0:
		return nil, errors.New("podtls: certificate files and ACME exclude each other")
	case cfg.CertFile != "":
		fc := &fileCert{certFile: cfg.CertFile, keyFile: cfg.KeyFile, recheck: time.Minute, now: time.Now, log: log, onLoad: p.recordFile}
		if err := fc.load(); err != nil {
			return nil, err
		}
		p.files = fc
		p.tlsConfig = &tls.Config{GetCertificate: fc.get}
		p.plain = redirect
	case len(cfg.ACMEDomains) > 0:
		m, err := p.acmeManager()
		if err != nil {
			return nil, err
		}
		// HTTPHandler must be made before the first certificate is asked
		// for: it is what lets autocert fall back to http-01.
		p.plain = m.HTTPHandler(redirect)
		p.tlsConfig = m.TLSConfig()
		p.tlsConfig.GetCertificate = p.acmeGet(m)
	default:
		return nil, errors.New("podtls: no certificate source: give certificate files or ACME domains")
	}
	p.tlsConfig.MinVersion = tls.VersionTLS12
	if reg != nil {
		if err := reg.Register(p.notAfter); err != nil {
			return nil, fmt.Errorf("podtls: register metrics: %w", err)
		}
	}
	return p, nil
}

// TLSConfig returns the configuration of the pod's TLS listener; the caller
// may change its copy (http.Server.ServeTLS adds "h2" and "http/1.1" to
// NextProtos).
func (p *Provider) TLSConfig() *tls.Config { return p.tlsConfig.Clone() }

// HTTPHandler is the handler of the plain-HTTP listener: ACME http-01
// challenges when ACME is on, a redirect to the public https URL for
// everything else.
func (p *Provider) HTTPHandler() http.Handler { return p.plain }

// redirect sends a request to the same path and query under the public
// URL. The Host header is ignored, so the pod never redirects elsewhere.
func (p *Provider) redirect(w http.ResponseWriter, r *http.Request) {
	path := r.URL.EscapedPath()
	if !strings.HasPrefix(path, "/") {
		path = "/"
	}
	target := p.cfg.PublicURL + path
	if r.URL.RawQuery != "" {
		target += "?" + r.URL.RawQuery
	}
	code := http.StatusMovedPermanently
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		code = http.StatusPermanentRedirect // keeps the method and body
	}
	http.Redirect(w, r, target, code)
}

func (p *Provider) acmeManager() (*autocert.Manager, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if p.cfg.ACMERoots != nil {
		tr.TLSClientConfig = &tls.Config{RootCAs: p.cfg.ACMERoots, MinVersion: tls.VersionTLS12}
	}
	if err := os.MkdirAll(p.cfg.CacheDir, 0o700); err != nil {
		return nil, fmt.Errorf("podtls: ACME cache: %w", err)
	}
	domains := slices.Clone(p.cfg.ACMEDomains)
	return &autocert.Manager{
		Prompt: autocert.AcceptTOS,
		Cache:  autocert.DirCache(p.cfg.CacheDir),
		// The port is dropped: an http-01 validator that is not on port 80
		// (a test CA) names it in the Host header.
		HostPolicy: func(_ context.Context, host string) error {
			if h, _, err := net.SplitHostPort(host); err == nil {
				host = h
			}
			if !slices.Contains(domains, strings.ToLower(host)) {
				return fmt.Errorf("podtls: %q is not one of the names this pod serves (--acme-domain)", host)
			}
			return nil
		},
		Email: p.cfg.ACMEEmail,
		Client: &acme.Client{
			DirectoryURL: p.cfg.ACMEDirectory,
			HTTPClient:   &http.Client{Transport: tr},
			UserAgent:    "swarmtube",
		},
	}, nil
}

// acmeGet wraps the manager's GetCertificate: a handshake without a
// server name (a client that dialled the IP address) gets the first
// domain's certificate, a served certificate's expiry is recorded, and a
// failure to obtain one for a configured name is logged (once a minute per
// name), since it otherwise shows only as a failed handshake.
func (p *Provider) acmeGet(m *autocert.Manager) func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
		if hello.ServerName == "" {
			h := *hello
			h.ServerName = p.cfg.ACMEDomains[0]
			hello = &h
		}
		name := strings.ToLower(strings.TrimSuffix(hello.ServerName, "."))
		c, err := m.GetCertificate(hello)
		if slices.Contains(hello.SupportedProtos, acme.ALPNProto) || !slices.Contains(p.cfg.ACMEDomains, name) {
			return c, err // a challenge, or a name that is not ours
		}
		if err != nil {
			p.warnMu.Lock()
			if time.Since(p.lastWarn[name]) >= time.Minute {
				p.lastWarn[name] = time.Now()
				p.log.Warn("no certificate from the ACME CA", "name", name, "directory", p.cfg.ACMEDirectory, "err", err)
			}
			p.warnMu.Unlock()
			return nil, err
		}
		if c.Leaf != nil {
			p.notAfter.WithLabelValues(name).Set(float64(c.Leaf.NotAfter.Unix()))
		}
		return c, nil
	}
}

// recordFile records a certificate loaded from files under its names.
func (p *Provider) recordFile(c *tls.Certificate) {
	p.notAfter.Reset()
	names := c.Leaf.DNSNames
	if len(names) == 0 {
		names = []string{c.Leaf.Subject.CommonName}
	}
	for _, n := range names {
		p.notAfter.WithLabelValues(n).Set(float64(c.Leaf.NotAfter.Unix()))
	}
}

// fileCert is a certificate read from files and read again once they
// change.
type fileCert struct {
	certFile, keyFile string
	recheck           time.Duration
	now               func() time.Time
	log               *slog.Logger
	onLoad            func(*tls.Certificate)

	mu      sync.Mutex // guards the following fields
	cert    *tls.Certificate
	stamp   string // modification times and sizes of both files
	checked time.Time
}

// get is the tls.Config.GetCertificate hook.
func (f *fileCert) get(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if now := f.now(); now.Sub(f.checked) >= f.recheck {
		f.checked = now
		if f.changedLocked() {
			if err := f.loadLocked(); err != nil {
				// Often a renewal caught between writing the two files:
				// serve the previous certificate and look again later.
				f.log.Warn("certificate files changed but do not load; still serving the previous certificate", "err", err)
			}
		}
	}
	return f.cert, nil
}

func (f *fileCert) load() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.checked = f.now()
	return f.loadLocked()
}

func (f *fileCert) loadLocked() error {
	stamp := f.stampNow()
	c, err := tls.LoadX509KeyPair(f.certFile, f.keyFile)
	if err != nil {
		return fmt.Errorf("podtls: load %s and %s: %w", f.certFile, f.keyFile, err)
	}
	if c.Leaf == nil {
		if c.Leaf, err = x509.ParseCertificate(c.Certificate[0]); err != nil {
			return fmt.Errorf("podtls: parse %s: %w", f.certFile, err)
		}
	}
	if left := c.Leaf.NotAfter.Sub(f.now()); left < 0 {
		f.log.Warn("the certificate has expired: browsers will refuse it", "file", f.certFile, "not_after", c.Leaf.NotAfter)
	} else {
		f.log.Info("certificate loaded", "file", f.certFile, "names", c.Leaf.DNSNames, "not_after", c.Leaf.NotAfter)
	}
	f.cert, f.stamp = &c, stamp
	if f.onLoad != nil {
		f.onLoad(&c)
	}
	return nil
}

func (f *fileCert) changedLocked() bool { return f.stampNow() != f.stamp }

// stampNow identifies the files' current contents by modification time and
// size (following symbolic links, which is how certbot's live/ files point
// at each renewal).
func (f *fileCert) stampNow() string {
	var b strings.Builder
	for _, name := range []string{f.certFile, f.keyFile} {
		if st, err := os.Stat(name); err == nil {
			b.WriteString(strconv.FormatInt(st.ModTime().UnixNano(), 10) + "/" + strconv.FormatInt(st.Size(), 10) + ";")
		} else {
			b.WriteString("missing;")
		}
	}
	return b.String()
}

// HSTS returns middleware adding Strict-Transport-Security with maxAge
// (RFC 6797) to the answers of requests that isHTTPS says arrived over
// https; a browser ignores the header over plain HTTP (RFC 6797 §8.1), so
// it is not sent there. No includeSubDomains: the pod does not speak for
// its domain's other hosts.
func HSTS(maxAge time.Duration, isHTTPS func(*http.Request) bool) func(http.Handler) http.Handler {
	value := "max-age=" + strconv.FormatInt(int64(maxAge/time.Second), 10)
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if isHTTPS(r) {
				w.Header().Set("Strict-Transport-Security", value)
			}
			next.ServeHTTP(w, r)
		})
	}
}
