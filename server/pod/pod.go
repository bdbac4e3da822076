// Package pod wires a whole Swarmtube pod together: store, identity,
// accounts, the REST API, trackers, seeder, web seed, federation and the web
// pages, behind one HTTP server. Tests start pods in-process with New+Run.
//
// Lifecycle: New opens everything and binds the listener (so a test can use
// port 0 and read URL), Run serves until its context ends, then shuts down in
// order: HTTP server (in-flight requests finish), WebSocket tracker
// connections, background workers, seeder, and last the store, so a clean
// stop never leaves a transaction half done.
package pod

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	bolt "go.etcd.io/bbolt"
	"golang.org/x/sync/errgroup"
	"golang.org/x/time/rate"

	"github.com/swarmtube/swarmtube/server/accounts"
	"github.com/swarmtube/swarmtube/server/api"
	"github.com/swarmtube/swarmtube/server/clientaddr"
	"github.com/swarmtube/swarmtube/server/config"
	"github.com/swarmtube/swarmtube/server/datadir"
	"github.com/swarmtube/swarmtube/server/federation"
	"github.com/swarmtube/swarmtube/server/federation/outbox"
	"github.com/swarmtube/swarmtube/server/feeds"
	"github.com/swarmtube/swarmtube/server/ffmpeg"
	"github.com/swarmtube/swarmtube/server/httpx"
	"github.com/swarmtube/swarmtube/server/identity"
	"github.com/swarmtube/swarmtube/server/mirrors"
	"github.com/swarmtube/swarmtube/server/podtls"
	"github.com/swarmtube/swarmtube/server/seeder"
	"github.com/swarmtube/swarmtube/server/store"
	"github.com/swarmtube/swarmtube/server/tracker"
	"github.com/swarmtube/swarmtube/server/turn"
	"github.com/swarmtube/swarmtube/server/videos"
	"github.com/swarmtube/swarmtube/server/webseed"
	"github.com/swarmtube/swarmtube/web"
)

// SoftwareVersion is reported in pod info; set at build time with
// -ldflags "-X github.com/swarmtube/swarmtube/server/pod.SoftwareVersion=...".
var SoftwareVersion = "0.1.0-dev"

// Pod is one running pod.
type Pod struct {
	cfg      config.Config
	log      *slog.Logger
	store    *store.Store
	id       *identity.Identity
	accounts *accounts.Service
	seeder   *seeder.Seeder
	videos   *videos.Service
	fed      *federation.Service
	outbox   *outbox.Outbox // made before videos, which feeds it, and fed, which drains it
	guarded  *http.Client   // federation.NewClient: every fetch on someone else's behalf
	mirrors  *mirrors.Manager
	webseed  *webseed.Handler
	tracker  *tracker.Server
	turn     *turn.Server // nil when off or replaced by --ice-servers
	ice      turn.ICE
	reg      *prometheus.Registry
	ln       net.Listener
	srv      *http.Server
	tls      *podtls.Provider // nil: plain HTTP (a proxy may terminate TLS in front)
	plainLn  net.Listener     // --http-listen: ACME challenges and redirects to https
	plainSrv *http.Server
	lock     *datadir.Lock

	closeOnce sync.Once
}

// New locks the data directory, binds the HTTP listener and opens the
// store and every component. On failure it closes whatever it had opened
// (listener, store, seeder, lock) and returns an error that is one plain
// sentence naming the cause and the remedy, fit to show a pod host as is.
func New(cfg config.Config, log *slog.Logger) (*Pod, error) {
	p := &Pod{cfg: cfg, log: log, reg: prometheus.NewRegistry()}
	if err := p.open(); err != nil {
		p.Close()
		return nil, plainFSError(err)
	}
	return p, nil
}

// plainFSError rewrites a file-system failure deep in some component (the
// store, the key, the seeder's files) as the sentence a host can act on;
// other errors pass unchanged.
func plainFSError(err error) error {
	var pe *fs.PathError
	if !errors.As(err, &pe) {
		return err
	}
	switch {
	case errors.Is(err, fs.ErrPermission), errors.Is(err, syscall.EROFS):
		return fmt.Errorf("cannot %s %s: %v; the pod's user (uid %d) must be able to read and write the data directory and everything in it",
			pe.Op, pe.Path, pe.Err, os.Geteuid())
	case errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.EDQUOT):
		return fmt.Errorf("cannot %s %s: the disk is full", pe.Op, pe.Path)
	}
	return err
}

// open does New's work, leaving each resource in p as soon as it exists so
// that Close can release exactly what was opened.
func (p *Pod) open() (err error) {
	cfg, log := p.cfg, p.log
	// The data directory first: a second pod on it must say so, not fail
	// on whatever it happens to open next.
	if p.lock, err = datadir.Acquire(cfg.DataDir); err != nil {
		return err
	}
	p.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	// No TCP keep-alive probes by default: Go's cost four setsockopt calls
	// per accepted connection (~12% of the CPU of an HTTP tracker announce,
	// which lives one request), and HTTP connections end by the server's
	// timeouts anyway. The tracker turns probes on for its WebSockets,
	// which live long.
	lc := net.ListenConfig{KeepAlive: -1}
	p.ln, err = lc.Listen(context.Background(), "tcp", cfg.Listen)
	if err != nil {
		return listenError("--listen", cfg.Listen, err)
	}
	if strings.HasSuffix(p.cfg.URL, ":0") { // port 0 asked for a free port: publish the real one
		_, port, _ := net.SplitHostPort(p.ln.Addr().String())
		p.cfg.URL = strings.TrimSuffix(p.cfg.URL, "0") + port
		if u, err := url.Parse(cfg.URL); err == nil && p.cfg.Name == u.Host {
			p.cfg.Name = strings.TrimSuffix(u.Host, "0") + port
		}
	}
	if err := p.openTLS(); err != nil {
		return err
	}

	if p.store, err = store.Open(filepath.Join(cfg.DataDir, "swarmtube.db")); err != nil {
		if errors.Is(err, bolt.ErrTimeout) {
			return fmt.Errorf("the database in data directory %s is locked by another process: stop it first, or give this pod another --data", cfg.DataDir)
		}
		return err
	}
	if p.id, err = identity.LoadOrCreate(cfg.DataDir); err != nil {
		return err
	}
	cookie := accounts.CookieName
	if u, err := url.Parse(p.cfg.URL); err == nil && u.Port() != "" {
		cookie += "_" + u.Port() // pods on one host must not share a login
	}
	p.accounts, err = accounts.New(p.store, accounts.Config{
		OpenRegistration: cfg.OpenRegistration,
		DefaultRights:    cfg.DefaultRights,
		CookieName:       cookie,
		// Quotas: server/videos enforces what accounts keeps.
		DefaultVideoQuota:      cfg.UserQuotaBytes,
		DefaultVideoQuotaDaily: cfg.UserDailyQuotaBytes,
		Metrics:                p.reg,
		// A deleted account's videos go first, with their federation events.
		OnDelete: func(ctx context.Context, username string) error { return p.videos.RemoveAllOf(ctx, username) },
	}, log.With("component", "accounts"))
	if err != nil {
		return err
	}
	if err := p.startTURN(); err != nil {
		if errors.Is(err, syscall.EADDRINUSE) || errors.Is(err, syscall.EACCES) {
			return listenError("--turn-listen", cfg.TURN.Listen, err)
		}
		return err
	}
	host, _, _ := net.SplitHostPort(p.ln.Addr().String())
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		host = ""
	}
	p.guarded = federation.NewClient(cfg.FederationAllowPrivate)
	p.seeder, err = seeder.New(seeder.Config{
		DataDir:     filepath.Join(cfg.DataDir, "seeder"),
		ListenAddr:  host, // the seeder listens where the HTTP server does: loopback stays loopback
		Port:        cfg.BTPort,
		WebRTC:      true,
		ICEServers:  p.ice.SeederServers(),
		IdleTimeout: cfg.SeedIdle,
		MaxActive:   cfg.SeedMaxActive,

		WebTransport: p.guarded.Transport, // mirrors' web seeds: URLs from friends
	}, log.With("component", "seeder"), p.reg)
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) || errors.Is(err, syscall.EACCES) {
			return listenError("--bt-port", net.JoinHostPort(host, strconv.Itoa(cfg.BTPort)), err)
		}
		return err
	}
	tools := ffmpeg.Find()
	if !tools.Available() {
		log.Warn("ffmpeg/ffprobe not found: uploads are not probed or transcoded and get no thumbnails; only MP4, WebM and Ogg files are accepted, as they are (install Debian's ffmpeg package)")
	}
	if !web.HasEngine(web.Static()) {
		log.Warn("this binary was built without the browser peer (web/static/client.wasm): pages play from the web seed only, with no peer to peer; build it with make build")
	}
	if p.outbox, err = outbox.New(p.store, p.cfg.URL); err != nil {
		return err
	}
	p.videos, err = videos.New(videos.Config{
		PodURL:         p.cfg.URL,
		Outbox:         p.outbox,
		DataDir:        cfg.DataDir,
		MaxUploadBytes: cfg.MaxUploadBytes,
		FFmpeg:         tools,
		Quota:          p.accounts.Quotas,
		CheckUser: func(name string) error {
			_, err := p.accounts.Get(name)
			return err
		},
		MaxOpenUploads: cfg.MaxOpenUploads,
		UploadExpiry:   cfg.UploadExpiry,
		FreeSpace:      videos.DiskFree,
		MinFreeBytes:   cfg.MinFreeBytes,

		TranscodeWorkers: cfg.TranscodeWorkers,
		Ladder:           cfg.Resolutions,
		// The mirrors are made next, from this catalogue; the
		// torrent route asks them when serving requests, after New.
		MirrorTorrent: func(id, infoHash string) ([]byte, bool) { return p.mirrors.Torrent(id, infoHash) },
	}, p.store, p.seeder, log.With("component", "videos"), p.reg)
	if err != nil {
		return err
	}
	if err := p.openMirrors(); err != nil {
		return err
	}
	p.fed, err = federation.New(federation.Config{
		SelfURL:        p.cfg.URL,
		Name:           p.cfg.Name,
		HTTPClient:     p.guarded,
		ScoreMin:       cfg.FriendScoreMin,
		Seeds:          cfg.Friends,
		RetryMax:       cfg.FriendRetryMax,
		HealthInterval: cfg.FriendCheckInterval,
		Rate:           rate.Limit(cfg.FederationRate),
		Burst:          cfg.FederationBurst,

		Accept:           cfg.FederationAccept,
		Allowlist:        cfg.FederationAllowlist,
		AllowPrivate:     cfg.FederationAllowPrivate,
		MaxFriends:       cfg.FederationMaxFriends,
		MaxFriendVideos:  cfg.FederationMaxVideos,
		MaxIntroductions: cfg.FederationMaxIntroductions,
		Mirrors:          p.mirrors,
	}, p.store, p.id, p.videos, p.outbox, log.With("component", "federation"), p.reg)
	if err != nil {
		return err
	}
	tcfg := tracker.Config{
		Allow:              p.videos.Known,
		MaxConnsPerIP:      cfg.TrackerMaxConnsPerIP,
		AnnouncesPerSecond: cfg.TrackerRate,
		OnAnnounce:         p.seeder.Touch, // seed on demand (issue 20)
		Self:               p.seederSelf,
	}
	if cfg.OpenTracker {
		tcfg.Allow = nil
	}
	if p.tracker, err = tracker.New(tcfg, log.With("component", "tracker"), p.reg); err != nil {
		return err
	}
	p.webseed = webseed.New(p.resolveWebseed, log.With("component", "webseed"), p.reg)

	proxies := clientaddr.NewResolver(cfg.TrustedProxies)
	p.srv = &http.Server{
		Handler:           p.handler(),
		ReadHeaderTimeout: 10 * time.Second,           // also bounds the TLS handshake
		MaxHeaderBytes:    httpx.ServerMaxHeaderBytes, // above HeaderLimit's, which answers in words
		ConnState:         httpx.NewConnLimiter(cfg.MaxConnsPerIP, proxies.Trusted, p.reg).ConnState,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
	if p.tls != nil {
		p.srv.TLSConfig = p.tls.TLSConfig()
	}
	// Last, once nothing else can fail: a start that fails must not create
	// the admin and show its one-time password in a log nobody reads.
	generated, err := p.accounts.EnsureAdmin(context.Background(), cfg.AdminPassword)
	if errors.Is(err, accounts.ErrAdminPasswordIgnored) {
		log.Warn("--admin-password is used only when the admin account is created: the admin's password was not changed; to change it, stop the pod and run `swarmtube admin reset-password --data "+cfg.DataDir+" admin`",
			"username", accounts.AdminUsername)
		err = nil
	}
	if err != nil {
		return err
	}
	if generated != "" {
		log.Warn("created the admin account with a random password; note it now, it is shown only once",
			"username", accounts.AdminUsername, "password", generated)
	}
	return nil
}

// startTURN binds the embedded STUN/TURN server unless it is off or
// --ice-servers replaces it, and decides the ICE servers of pages and seeder.
func (p *Pod) startTURN() error {
	p.ice.External = p.cfg.ICEServers
	if p.cfg.TURN.Listen == "" || p.cfg.ICEServers != nil {
		return nil
	}
	secret, err := turn.LoadSecret(turn.SecretPath(p.cfg.DataDir))
	if err != nil {
		return err
	}
	t := p.cfg.TURN
	p.turn, err = turn.New(turn.Config{
		Listen: t.Listen, PublicIP: t.PublicIP, RelayMinPort: t.RelayMinPort, RelayMaxPort: t.RelayMaxPort,
		MaxBitsPerSecond: t.MaxMbps * 1e6, Realm: p.cfg.Name, Secret: secret,
	}, p.log.With("component", "turn"), p.reg)
	p.ice.Server = p.turn
	return err
}

// openTLS prepares HTTPS when the pod serves it itself, and binds the
// plain-HTTP listener of --http-listen.
func (p *Pod) openTLS() error {
	cfg := p.cfg
	if !cfg.ServesTLS() {
		return nil
	}
	tc := podtls.Config{
		CertFile: cfg.TLSCert, KeyFile: cfg.TLSKey,
		ACMEDomains: cfg.ACMEDomains, ACMEDirectory: cfg.ACMEDirectory, ACMEEmail: cfg.ACMEEmail,
		CacheDir:  filepath.Join(cfg.DataDir, "acme"),
		PublicURL: cfg.URL,
	}
	if cfg.ACMECARoots != "" {
		pemBytes, err := os.ReadFile(cfg.ACMECARoots)
		if err != nil {
			return fmt.Errorf("pod: --acme-ca-roots: %w", err)
		}
		tc.ACMERoots = x509.NewCertPool()
		tc.ACMERoots.AppendCertsFromPEM(pemBytes)
	}
	var err error
	if p.tls, err = podtls.New(tc, p.log.With("component", "tls"), p.reg); err != nil {
		return err
	}
	if cfg.HTTPListen == "" {
		return nil
	}
	if p.plainLn, err = net.Listen("tcp", cfg.HTTPListen); err != nil {
		return listenError("--http-listen", cfg.HTTPListen, err)
	}
	p.plainSrv = &http.Server{
		Handler:           p.tls.HTTPHandler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       time.Minute,
		ErrorLog:          slog.NewLogLogger(p.log.Handler(), slog.LevelDebug),
	}
	return nil
}

// URL is the pod's public base URL.
func (p *Pod) URL() string { return p.cfg.URL }

// Addr is the bound HTTP (or HTTPS) address.
func (p *Pod) Addr() net.Addr { return p.ln.Addr() }

// HTTPAddr is the bound address of --http-listen, nil without it.
func (p *Pod) HTTPAddr() net.Addr {
	if p.plainLn == nil {
		return nil
	}
	return p.plainLn.Addr()
}

// Accounts gives tests and the CLI access to the account service.
func (p *Pod) Accounts() *accounts.Service { return p.accounts }

// viewer is the signed-in user of a page request, for the pages.
func viewer(r *http.Request) *api.User {
	u, ok := accounts.UserFrom(r.Context())
	if !ok {
		return nil
	}
	pu := u.Public()
	return &pu
}

func (p *Pod) handler() http.Handler {
	log := p.log.With("component", "http")
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/pod", p.podInfo)
	p.accounts.Routes(mux, log)
	p.videos.Routes(mux, log)
	p.fed.Routes(mux, log)
	p.mirrors.Routes(mux, log)
	mux.Handle("GET /static/webseed/{file}", p.webseed)
	mux.Handle("OPTIONS /static/webseed/{file}", p.webseed) // CORS preflight
	// The engine's stream as the network sees it: a first visit's first
	// request, before the Service Worker controls the page (webseed.StartHandler).
	mux.Handle("GET /static/engine/stream/{infohash}/{name}", p.webseed.StartHandler("/static/webseed/"))
	mux.Handle("GET /tracker/socket", p.tracker.WebSocketHandler())
	mux.Handle("GET /tracker/announce", p.tracker.AnnounceHandler())
	mux.Handle("GET /tracker/scrape", p.tracker.ScrapeHandler())
	mux.Handle("GET /api/v1/webrtc/ice-servers", p.ice)
	mux.Handle("GET /metrics", promhttp.HandlerFor(p.reg, promhttp.HandlerOpts{Registry: p.reg}))
	noRoute := &httpx.NoRoute{Mux: mux, NotFound: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		httpx.WriteError(w, r, log, httpx.Errorf(http.StatusNotFound, "no_route", "no API route %s %s", r.Method, r.URL.Path))
	})}
	mux.Handle("/api/", noRoute)
	mux.Handle("/api", noRoute) // else the mux redirects to /api/, only to answer 404 there
	(&feeds.Handler{PodURL: p.cfg.URL, PodName: p.cfg.Name, Videos: p.videos, Log: log}).Routes(mux)
	errorPage := web.Routes(mux, web.Options{PodURL: p.cfg.URL, PodName: p.cfg.Name, Catalog: p.videos, Viewer: viewer, MaxUploadBytes: p.cfg.MaxUploadBytes, Video: func(id string) (api.Video, bool) {
		v, err := p.videos.Get(id)
		if errors.Is(err, videos.ErrNotFound) || errors.Is(err, videos.ErrBadID) {
			return api.Video{}, false
		}
		// Any other error is the store's: serve the shell, whose script
		// reports it, rather than claim the video is gone.
		return v, true
	}})
	hsts := func(next http.Handler) http.Handler { return next }
	if p.cfg.HSTS > 0 {
		hsts = podtls.HSTS(p.cfg.HSTS, clientaddr.Secure)
	}
	return httpx.Chain(mux,
		httpx.Recover(log),
		clientaddr.NewResolver(p.cfg.TrustedProxies).Middleware,
		httpx.MinBodyRate(httpx.BodyWindow, httpx.MinBodyBytes),
		hsts, // after clientaddr: https may have been a trusted proxy's
		publicCORS,
		httpx.ModestRanges, // for every ServeContent: web seed, images, pages, static
		httpx.Observe(log, httpx.NewMetrics(p.reg)),
		httpx.Compress("/static/webseed/", "/static/engine/stream/", "/tracker/"),
		httpx.PlainErrors(log, nil, errorPage), // libraries' plain-text errors: JSON, or the error page
		httpx.HeaderLimit(httpx.MaxHeaderBytes, errorPage),
		httpx.OneValueEach(), // ?owner=a&owner=b on the API and feeds: 400, not the first value
		p.accounts.Middleware(log),
	)
}

// publicCORS lets other pods' pages read this pod's public, anonymous data:
// pod info, the video catalogue and .torrent files, which a viewer on a
// friend pod needs to join this pod's swarm. "*" never carries credentials,
// so no logged-in answer is exposed.
func publicCORS(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if (r.Method == http.MethodGet || r.Method == http.MethodHead) &&
			(r.URL.Path == "/api/v1/pod" || strings.HasPrefix(r.URL.Path, "/api/v1/videos")) {
			w.Header().Set("Access-Control-Allow-Origin", "*")
		}
		next.ServeHTTP(w, r)
	})
}

func (p *Pod) podInfo(w http.ResponseWriter, r *http.Request) {
	httpx.WriteJSON(w, http.StatusOK, api.PodInfo{
		Name:             p.cfg.Name,
		URL:              p.cfg.URL,
		SoftwareVersion:  SoftwareVersion,
		APIVersions:      []string{api.Version},
		PublicKey:        p.id.PublicKeyPEM,
		OpenRegistration: p.cfg.OpenRegistration,
		MaxUploadBytes:   p.cfg.MaxUploadBytes,
	})
}

// Run serves until ctx is done, then shuts down in order. It returns the
// first error of any component.
func (p *Pod) Run(ctx context.Context) error {
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return p.accounts.Run(gctx) })
	g.Go(func() error { return p.videos.Run(gctx) })
	g.Go(func() error { return p.tracker.Run(gctx) })
	g.Go(func() error { return p.fed.Run(gctx) })
	g.Go(func() error { return p.mirrors.Run(gctx) })
	if p.turn != nil {
		g.Go(func() error { return p.turn.Run(gctx) })
	}
	g.Go(func() error {
		p.log.Info("pod listening", "url", p.cfg.URL, "addr", p.ln.Addr().String(), "tls", p.tls != nil, "data", p.cfg.DataDir)
		serve := p.srv.Serve
		if p.tls != nil {
			// ServeTLS adds h2 and http/1.1 to the provider's NextProtos.
			serve = func(ln net.Listener) error { return p.srv.ServeTLS(ln, "", "") }
		}
		if err := serve(p.ln); !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("pod: serve: %w", err)
		}
		return nil
	})
	if p.plainSrv != nil {
		g.Go(func() error {
			p.log.Info("plain HTTP listening: ACME challenges and redirects to https", "addr", p.plainLn.Addr().String())
			if err := p.plainSrv.Serve(p.plainLn); !errors.Is(err, http.ErrServerClosed) {
				return fmt.Errorf("pod: serve plain HTTP: %w", err)
			}
			return nil
		})
	}
	g.Go(func() error {
		<-gctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), p.cfg.ShutdownTimeout)
		defer cancel()
		p.log.Info("shutting down")
		if err := p.srv.Shutdown(sctx); err != nil {
			p.log.Warn("http shutdown", "err", err)
		}
		if p.plainSrv != nil {
			if err := p.plainSrv.Shutdown(sctx); err != nil {
				p.log.Warn("plain http shutdown", "err", err)
			}
		}
		// Shutdown does not close hijacked connections: the tracker's
		// WebSockets are closed here, with a going-away status.
		if err := p.tracker.Close(); err != nil {
			p.log.Warn("tracker close", "err", err)
		}
		return nil
	})
	err := g.Wait()
	p.Close()
	return err
}

// listenError says in one sentence why binding addr (given by flag) failed.
func listenError(flag, addr string, err error) error {
	_, port, _ := net.SplitHostPort(addr)
	switch {
	case errors.Is(err, syscall.EADDRINUSE):
		return fmt.Errorf("port %s is already in use (%s %s): stop the program holding it, or choose another port", port, flag, addr)
	case errors.Is(err, syscall.EACCES):
		return fmt.Errorf("not allowed to listen on port %s (%s %s): ports below 1024 need root or CAP_NET_BIND_SERVICE", port, flag, addr)
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		return fmt.Errorf("cannot listen on %s (%s): this machine has no such address", addr, flag)
	}
	return fmt.Errorf("cannot listen on %s (%s): %w", addr, flag, err)
}

// Close releases everything New opened; it is idempotent and safe after Run
// and on a Pod whose New failed part way.
func (p *Pod) Close() {
	p.closeOnce.Do(func() {
		// Server.Close closes only listeners Serve was given: after a New
		// without Run they are closed here.
		for _, srv := range []*http.Server{p.srv, p.plainSrv} {
			if srv != nil {
				_ = srv.Close()
			}
		}
		for _, ln := range []net.Listener{p.ln, p.plainLn} {
			if ln != nil {
				_ = ln.Close()
			}
		}
		if p.turn != nil {
			if err := p.turn.Close(); err != nil {
				p.log.Warn("turn close", "err", err)
			}
		}
		if p.seeder != nil {
			if err := p.seeder.Close(); err != nil {
				p.log.Warn("seeder close", "err", err)
			}
		}
		if p.store != nil {
			if err := p.store.Close(); err != nil {
				p.log.Warn("store close", "err", err)
			}
		}
		if err := p.lock.Release(); err != nil {
			p.log.Warn("data directory unlock", "err", err)
		}
	})
}
