// Package config defines the pod's configuration and reads it from command
// line flags, each of which may also be set by the environment variable
// SWARMTUBE_<FLAG> (upper case, '-' as '_'); a flag given on the command line
// wins over the environment.
package config

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/swarmtube/swarmtube/server/api"
	"github.com/swarmtube/swarmtube/server/clientaddr"
)

// Config is everything a pod needs to start.
type Config struct {
	Listen  string // HTTP listen address
	URL     string // public base URL, no trailing slash
	DataDir string // store, keys, videos
	Name    string // pod name shown to people and friends
	BTPort  int    // BitTorrent TCP/uTP port; 0 picks a free one
	// SeedIdle unloads a video's torrent from the seeder after this long
	// without peers, announces or web seed reads; SeedMaxActive bounds the
	// torrents loaded at once (least recently active unloaded first).
	SeedIdle         time.Duration
	SeedMaxActive    int
	AdminPassword    string   // password of "admin" at first start; empty: random, logged once
	OpenRegistration bool     // anyone may register
	DefaultRights    []string // rights of self-registered users
	MaxUploadBytes   int64    // largest accepted video
	// Quotas and room for uploads (server/videos quota.go): the default
	// total and daily video quotas per user in bytes (-1 unlimited), the
	// unfinished resumable uploads allowed per user, how long one is kept
	// without progress, and the free disk space uploads must leave.
	UserQuotaBytes, UserDailyQuotaBytes int64
	MaxOpenUploads                      int
	UploadExpiry                        time.Duration
	MinFreeBytes                        int64
	OpenTracker                         bool     // track any info hash, not only known videos
	Friends                             []string // pods to make friends with at start
	LogLevel                            slog.Level
	ShutdownTimeout                     time.Duration
	TranscodeWorkers                    int // videos transcoded at once (ffmpeg processes)
	// Resolutions is the ladder (short side, pixels) made of every video
	// below its best file; empty: none (--resolutions "").
	Resolutions []int
	// FriendScoreMin is the score below which a friend is ejected.
	FriendScoreMin int
	// FriendRetryMax is the longest wait between deliveries to a friend
	// that keeps failing; FriendCheckInterval the heartbeat to friends with
	// nothing to deliver. Each failure costs a friend 2 points of its 100.
	FriendRetryMax      time.Duration
	FriendCheckInterval time.Duration
	// FederationRate and FederationBurst are the token bucket of
	// federation requests accepted from each friend.
	FederationRate  float64
	FederationBurst int
	// TrustedProxies are the peers whose X-Forwarded-For,
	// X-Forwarded-Proto and Forwarded headers are believed (see
	// server/clientaddr); empty: none.
	TrustedProxies []netip.Prefix
	// TrackerMaxConnsPerIP bounds tracker WebSockets per client address;
	// TrackerRate is the WebSocket messages per second allowed per
	// connection (burst twice that). Negative disables either.
	TrackerMaxConnsPerIP int
	TrackerRate          float64
	// MaxConnsPerIP bounds open HTTP connections per client address
	// (trusted proxies exempt); -1 disables it.
	MaxConnsPerIP int

	// TURN is the embedded STUN/TURN server (server/turn); ICEServers,
	// when not nil, replaces it with external servers.
	TURN       TURNConfig
	ICEServers []api.ICEServer

	// HTTPS served by the pod itself (see package podtls). TLSCert and
	// TLSKey are PEM files, checked at Parse; ACMEDomains are the names to
	// obtain certificates for from the ACME CA at ACMEDirectory (empty:
	// Let's Encrypt), whose own HTTPS is verified with ACMECARoots (a PEM
	// file; empty: the system roots). HTTPListen is the plain-HTTP
	// listener answering ACME HTTP-01 challenges and redirecting the rest
	// to https (":80" by default with ACME, none otherwise). HSTS is the
	// Strict-Transport-Security max-age sent on https answers (0: none).
	TLSCert, TLSKey string
	ACMEDomains     []string
	ACMEDirectory   string
	ACMEEmail       string
	ACMECARoots     string
	HTTPListen      string
	HSTS            time.Duration
	// FederationAccept is the policy for introductions this pod did not
	// ask for: "manual" (an admin accepts or refuses each), "allowlist"
	// (pods on FederationAllowlist are accepted, others wait for an admin)
	// or "open" (test networks). FederationAllowlist holds pod URLs and
	// domains.
	FederationAccept    string
	FederationAllowlist []string
	// FederationAllowPrivate lets fetches made on someone else's behalf
	// reach loopback, private and link-local addresses (test networks).
	FederationAllowPrivate bool
	// Caps: friends (any state), videos kept per friend, introductions
	// learnt from one friend.
	FederationMaxFriends       int
	FederationMaxVideos        int
	FederationMaxIntroductions int
	// Mirrors (issue 18): MirrorMaxBytes bounds friends' videos held as
	// mirrors (0: off), MirrorStrategy picks them (most-viewed, newest,
	// manual), MirrorMinLifetime is the least a mirror is kept,
	// MirrorInterval the time between policy passes.
	MirrorMaxBytes    int64
	MirrorStrategy    string
	MirrorMinLifetime time.Duration
	MirrorInterval    time.Duration
}

// ServesTLS reports whether the pod terminates TLS itself (a certificate
// from files or from ACME), rather than serving plain HTTP.
func (c *Config) ServesTLS() bool { return c.TLSCert != "" || len(c.ACMEDomains) > 0 }

// TURNConfig configures the embedded STUN/TURN server.
type TURNConfig struct {
	Listen       string  // host:port, UDP and TCP; "" when off
	PublicIP     net.IP  // advertised relay address; nil: guessed (see turn.Config)
	RelayMinPort int     // relay port range, inclusive; 0-0 for any port
	RelayMaxPort int     //
	MaxMbps      float64 // total relay budget, megabits per second
}

// Help is Parse's answer to -h or --help (errors.Is(err, flag.ErrHelp)):
// Text is the usage to print, and the command should exit 0.
type Help struct{ Text string }

func (*Help) Error() string { return "help requested" }
func (*Help) Unwrap() error { return flag.ErrHelp }

// Parse reads flags from args (without the program name) and the
// environment, validates them and fills derived defaults. Nothing is
// opened: every error is about a value, one line naming the flag. For -h
// or --help it returns a *Help.
// badValueRE matches the flag package's refusal of a value
// (`invalid value "abc" for flag -seed-idle: parse error`, `invalid
// boolean value "maybe" for -open-tracker: parse error`).
var badValueRE = regexp.MustCompile(`^invalid (?:boolean )?value ("(?:[^"\\]|\\.)*") for (?:flag )?-([^:]+): `)

// valueWords says what f wants, in words, in place of strconv's and
// time's errors ("parse error", "value out of range"); a flag of our own
// type keeps its own sentence.
func valueWords(f *flag.Flag, err error) string {
	g, ok := f.Value.(flag.Getter)
	if !ok {
		return err.Error()
	}
	switch g.Get().(type) {
	case time.Duration:
		return "want a duration such as 90s, 10m or 1h30m"
	case int, int64, uint, uint64:
		return "want a whole number"
	case float64:
		return "want a number"
	case bool:
		return "want true or false"
	}
	return strings.TrimPrefix(err.Error(), "invalid value ")
}

func Parse(args []string, getenv func(string) string) (Config, error) {
	var c Config
	fs := flag.NewFlagSet("swarmtube", flag.ContinueOnError)
	// flag prints errors with the whole usage; ours are returned as one
	// line, and the usage is written only for -h.
	var usage strings.Builder
	fs.SetOutput(io.Discard)
	fs.Usage = func() {
		usage.WriteString(synopsis)
		fs.SetOutput(&usage)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
	}
	var rights, friends, level, proxies, turnIP, relayPorts, iceServers, acmeDomains, allowlist string
	var maxUpload, userQuota, userDailyQuota, minFree int64
	fs.StringVar(&c.Listen, "listen", "127.0.0.1:9000", "HTTP listen address")
	fs.StringVar(&c.URL, "url", "", "public base URL of the pod (default http://<listen>)")
	fs.StringVar(&c.DataDir, "data", "./data", "data directory (store, keys, videos)")
	fs.StringVar(&c.Name, "name", "", "pod name (default: host of --url)")
	fs.IntVar(&c.BTPort, "bt-port", 0, "BitTorrent TCP/uTP port (0 = any free port)")
	fs.DurationVar(&c.SeedIdle, "seed-idle", 10*time.Minute, "unload a video's torrent from the seeder after this long without peers, announces or web seed reads")
	fs.IntVar(&c.SeedMaxActive, "seed-max-active", 2000, "most torrents loaded in the seeder at once; past it the least recently active is unloaded")
	var mirrorGB float64
	fs.Float64Var(&mirrorGB, "mirror-max-gb", 0, "disk budget, in GB, for friends' videos this pod mirrors (0 = no mirrors)")
	fs.StringVar(&c.MirrorStrategy, "mirror-strategy", "manual", "what to mirror: most-viewed, newest, or manual (an admin picks)")
	fs.DurationVar(&c.MirrorMinLifetime, "mirror-min-lifetime", 24*time.Hour, "a mirror is kept at least this long (unless its origin removes the video)")
	fs.DurationVar(&c.MirrorInterval, "mirror-check-interval", 5*time.Minute, "time between two passes of the mirror policy")
	fs.StringVar(&c.AdminPassword, "admin-password", "", "password of the user admin, created at first start (default: random, printed once)")
	fs.BoolVar(&c.OpenRegistration, "open-registration", true, "let anyone register")
	fs.StringVar(&rights, "default-rights", "", `comma-separated rights of self-registered users ("upload")`)
	fs.Int64Var(&maxUpload, "max-upload-mb", 4096, "largest accepted video, in MiB")
	fs.Int64Var(&userQuota, "user-quota-mb", -1, "default total size of a user's videos, in MiB (-1: unlimited); an admin sets each user's own")
	fs.Int64Var(&userDailyQuota, "user-daily-quota-mb", -1, "default size a user may upload in 24 hours, in MiB (-1: unlimited)")
	fs.IntVar(&c.MaxOpenUploads, "max-open-uploads", 4, "unfinished resumable uploads allowed per user")
	fs.DurationVar(&c.UploadExpiry, "upload-expiry", 6*time.Hour, "an unfinished resumable upload with no progress for this long is removed")
	fs.Int64Var(&minFree, "min-free-mb", 512, "free disk space, in MiB, that uploads must leave; beyond it they are refused with 507")
	fs.IntVar(&c.TranscodeWorkers, "transcode-workers", 1, "videos transcoded at once (each runs one ffmpeg)")
	resolutions := "1080,720,480,360,240"
	fs.StringVar(&resolutions, "resolutions", resolutions, `comma-separated lower resolutions (short side, pixels, 144 to 2160) made of every video below its own; "" for none`)
	fs.BoolVar(&c.OpenTracker, "open-tracker", false, "track any info hash, not only this pod's and its friends' videos")
	fs.StringVar(&friends, "friends", "", "comma-separated pod URLs to make friends with at start")
	fs.StringVar(&level, "log-level", "info", "log level: debug, info, warn, error")
	fs.DurationVar(&c.ShutdownTimeout, "shutdown-timeout", 15*time.Second, "time given to in-flight requests at shutdown")
	fs.IntVar(&c.FriendScoreMin, "friend-score-min", 0, "friends whose score falls below this are ejected")
	fs.DurationVar(&c.FriendRetryMax, "friend-retry-max", 5*time.Minute, "longest wait between delivery attempts to an unreachable friend")
	fs.DurationVar(&c.FriendCheckInterval, "friend-check-interval", 5*time.Minute, "heartbeat to friends with nothing to deliver")
	fs.Float64Var(&c.FederationRate, "federation-rate", 20, "federation requests per second accepted from each friend")
	fs.IntVar(&c.FederationBurst, "federation-burst", 40, "burst of federation requests accepted from each friend")
	fs.StringVar(&proxies, "trusted-proxies", "", "comma-separated CIDR prefixes or addresses of reverse proxies whose X-Forwarded-For, X-Forwarded-Proto and Forwarded headers are believed")
	fs.IntVar(&c.TrackerMaxConnsPerIP, "tracker-max-conns-per-ip", 128, "tracker WebSockets allowed per client address (-1: no limit)")
	fs.IntVar(&c.MaxConnsPerIP, "max-conns-per-ip", 256, "open HTTP connections allowed per client address; trusted proxies are exempt (-1: no limit)")
	fs.Float64Var(&c.TrackerRate, "tracker-rate", 10, "tracker WebSocket messages per second allowed per connection, burst twice that (-1: no limit)")
	fs.StringVar(&c.TURN.Listen, "turn-listen", "", `STUN/TURN listen address, UDP and TCP ("off" to disable; default: the --listen host, port 3478)`)
	fs.StringVar(&turnIP, "turn-public-ip", "", "IPv4 address advertised for STUN/TURN and relays (default: the --turn-listen host, else the first global address)")
	fs.StringVar(&relayPorts, "turn-relay-ports", "", "TURN relay UDP port range MIN-MAX (default: any free port)")
	fs.Float64Var(&c.TURN.MaxMbps, "turn-max-mbps", 50, "total TURN relay budget in megabits per second (relayed bytes are pod egress)")
	fs.StringVar(&iceServers, "ice-servers", "", `JSON array of RTCIceServer objects ({"urls","username","credential"}) used instead of the embedded STUN/TURN server`)
	fs.StringVar(&c.TLSCert, "tls-cert", "", "serve HTTPS with this PEM certificate chain (with --tls-key)")
	fs.StringVar(&c.TLSKey, "tls-key", "", "PEM private key of --tls-cert")
	fs.StringVar(&acmeDomains, "acme-domain", "", "comma-separated host names: serve HTTPS with certificates obtained automatically from an ACME CA")
	fs.StringVar(&c.ACMEDirectory, "acme-directory", "", "ACME directory URL (default: Let's Encrypt)")
	fs.StringVar(&c.ACMEEmail, "acme-email", "", "contact address given to the ACME CA (expiry warnings)")
	fs.StringVar(&c.ACMECARoots, "acme-ca-roots", "", "PEM file of the roots to trust for the ACME server's own HTTPS (a private CA; default: the system's)")
	fs.StringVar(&c.HTTPListen, "http-listen", "", `plain-HTTP listen address answering ACME challenges and redirecting to https (default ":80" with --acme-domain)`)
	fs.DurationVar(&c.HSTS, "hsts", 0, "send Strict-Transport-Security with this max-age on https answers (e.g. 8760h; 0: off)")
	fs.StringVar(&c.FederationAccept, "federation-accept", "manual", "introductions this pod did not ask for: manual (an admin accepts each), allowlist (--federation-allowlist accepted, others wait), open (test networks)")
	fs.StringVar(&allowlist, "federation-allowlist", "", "comma-separated pod URLs and domains accepted at once with --federation-accept allowlist")
	fs.BoolVar(&c.FederationAllowPrivate, "federation-allow-private", false, "let federation fetch loopback, private and link-local addresses (test networks only)")
	fs.IntVar(&c.FederationMaxFriends, "federation-max-friends", 64, "most friends (in any state) this pod keeps")
	fs.IntVar(&c.FederationMaxVideos, "federation-max-videos", 50000, "most videos kept per friend")
	fs.IntVar(&c.FederationMaxIntroductions, "federation-max-introductions", 20, "most friends learnt from one friend that this pod introduces itself to")

	// Environment first, so explicit flags override it.
	var envErr error
	fs.VisitAll(func(f *flag.Flag) {
		name := "SWARMTUBE_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v := getenv(name); v != "" {
			if err := fs.Set(f.Name, v); err != nil {
				envErr = errors.Join(envErr, fmt.Errorf("%s=%q: %s", name, v, valueWords(f, err)))
			}
		}
	})
	if envErr != nil {
		return c, envErr
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return c, &Help{Text: usage.String()}
		}
		if m := badValueRE.FindStringSubmatch(err.Error()); m != nil {
			if f := fs.Lookup(m[2]); f != nil {
				return c, fmt.Errorf("--%s %s: %s", f.Name, m[1], valueWords(f, err))
			}
		}
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	c.DefaultRights = splitList(rights)
	c.Friends = splitList(friends)
	c.ACMEDomains = splitList(acmeDomains)
	if maxUpload <= 0 || maxUpload > 1<<30 {
		return c, fmt.Errorf("--max-upload-mb %d: want a size in MiB above 0", maxUpload)
	}
	c.FederationAllowlist = splitList(allowlist)
	c.MaxUploadBytes = maxUpload << 20
	if !(mirrorGB >= 0 && mirrorGB < 1e9) { // NaN too
		return c, fmt.Errorf("--mirror-max-gb %v: want a size in GB, 0 or more", mirrorGB)
	}
	c.MirrorMaxBytes = int64(mirrorGB * 1e9)
	for _, q := range []struct {
		flag string
		mb   int64
		to   *int64
	}{{"user-quota-mb", userQuota, &c.UserQuotaBytes}, {"user-daily-quota-mb", userDailyQuota, &c.UserDailyQuotaBytes}} {
		if q.mb < -1 || q.mb == 0 || q.mb > 1<<40 {
			return c, fmt.Errorf("--%s %d: want a size in MiB above 0, or -1 for unlimited", q.flag, q.mb)
		}
		*q.to = max(q.mb<<20, -1)
	}
	if c.MaxOpenUploads < 1 || c.MaxOpenUploads > 1000 {
		return c, fmt.Errorf("--max-open-uploads %d: want 1 to 1000", c.MaxOpenUploads)
	}
	if c.UploadExpiry < time.Minute {
		return c, fmt.Errorf("--upload-expiry %v: want at least 1m", c.UploadExpiry)
	}
	if minFree < 0 || minFree > 1<<40 {
		return c, fmt.Errorf("--min-free-mb %d: want a size in MiB, 0 or more", minFree)
	}
	c.MinFreeBytes = minFree << 20
	if c.TranscodeWorkers < 1 || c.TranscodeWorkers > 64 {
		return c, fmt.Errorf("--transcode-workers %d: want 1 to 64", c.TranscodeWorkers)
	}
	c.Resolutions = []int{}
	for _, f := range strings.FieldsFunc(resolutions, func(r rune) bool { return r == ',' || r == ' ' }) {
		n, err := strconv.Atoi(strings.TrimSuffix(f, "p"))
		if err != nil || n < 144 || n > 2160 {
			return c, fmt.Errorf("--resolutions %q: want numbers of pixels from 144 to 2160, such as 720,480,360", resolutions)
		}
		c.Resolutions = append(c.Resolutions, n)
	}
	if err := c.LogLevel.UnmarshalText([]byte(level)); err != nil {
		return c, fmt.Errorf("--log-level %q: want debug, info, warn or error", level)
	}
	var err error
	if c.TrustedProxies, err = clientaddr.ParsePrefixes(proxies); err != nil {
		return c, fmt.Errorf("--trusted-proxies: %w", err)
	}
	if c.TURN.Listen == "" {
		// The relay listens where the pod does: a pod on loopback keeps
		// its relay on loopback too (one on all interfaces, on all).
		host, _, err := net.SplitHostPort(c.Listen)
		if err != nil {
			return c, fmt.Errorf("--listen %q: want host:port", c.Listen)
		}
		c.TURN.Listen = net.JoinHostPort(host, "3478")
	}
	if err := c.TURN.parse(turnIP, relayPorts); err != nil {
		return c, err
	}
	if iceServers != "" {
		if c.ICEServers, err = ParseICEServers(iceServers); err != nil {
			return c, fmt.Errorf("--ice-servers: %w", err)
		}
	}
	return c, c.finish()
}

func (c *Config) finish() error {
	host, port, err := net.SplitHostPort(c.Listen)
	if err != nil {
		return fmt.Errorf("--listen %q: %w", c.Listen, err)
	}
	if err := c.finishTLS(); err != nil {
		return err
	}
	if c.URL == "" {
		if host == "" || host == "0.0.0.0" || host == "::" {
			host = "localhost"
		}
		switch {
		case len(c.ACMEDomains) > 0 && port == "443":
			c.URL = "https://" + c.ACMEDomains[0]
		case len(c.ACMEDomains) > 0:
			c.URL = "https://" + net.JoinHostPort(c.ACMEDomains[0], port)
		case c.ServesTLS() && port == "443":
			c.URL = "https://" + host
		case c.ServesTLS():
			c.URL = "https://" + net.JoinHostPort(host, port)
		default:
			c.URL = "http://" + net.JoinHostPort(host, port)
		}
	}
	c.URL = strings.TrimRight(c.URL, "/")
	u, err := url.Parse(c.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Path != "" {
		return fmt.Errorf("--url %q: want http(s)://host[:port] with no path", c.URL)
	}
	if c.ServesTLS() && u.Scheme != "https" {
		return fmt.Errorf("--url %q: the pod serves HTTPS itself, so its public URL starts with https://", c.URL)
	}
	if len(c.ACMEDomains) > 0 && !slices.Contains(c.ACMEDomains, u.Hostname()) {
		return fmt.Errorf("--url %q: its host is not one of --acme-domain %s, so no certificate would cover it", c.URL, strings.Join(c.ACMEDomains, ","))
	}
	if c.HSTS != 0 && u.Scheme != "https" {
		return errors.New("--hsts needs an https:// --url (served by the pod itself or by a proxy in front of it)")
	}
	if c.Name == "" {
		c.Name = u.Host
	}
	if c.BTPort < 0 || c.BTPort > 65535 {
		return fmt.Errorf("--bt-port %d out of range", c.BTPort)
	}
	if c.SeedIdle < 0 || c.SeedMaxActive < 0 {
		return errors.New("--seed-idle and --seed-max-active must not be negative")
	}
	switch c.MirrorStrategy {
	case "most-viewed", "newest", "manual":
	default:
		return fmt.Errorf("--mirror-strategy %q: want most-viewed, newest or manual", c.MirrorStrategy)
	}
	if c.MirrorMinLifetime < 0 || c.MirrorInterval < 0 {
		return errors.New("--mirror-min-lifetime and --mirror-check-interval must not be negative")
	}
	if c.ShutdownTimeout < 0 {
		return fmt.Errorf("--shutdown-timeout %v must not be negative", c.ShutdownTimeout)
	}
	if c.FriendScoreMin < 0 || c.FriendScoreMin > 100 {
		return fmt.Errorf("--friend-score-min %d: want a score from 0 to 100", c.FriendScoreMin)
	}
	for _, r := range c.DefaultRights {
		if r != api.RightUpload && r != api.RightAdmin {
			return fmt.Errorf("--default-rights: unknown right %q", r)
		}
	}
	for i, f := range c.Friends {
		fu, err := url.Parse(f)
		if err != nil || (fu.Scheme != "http" && fu.Scheme != "https") || fu.Host == "" {
			return fmt.Errorf("--friends: %q is not an http(s) pod URL", f)
		}
		c.Friends[i] = strings.TrimRight(f, "/")
	}
	if c.FriendRetryMax <= 0 || c.FriendCheckInterval <= 0 || c.FederationRate <= 0 || c.FederationBurst <= 0 {
		return errors.New("--friend-retry-max, --friend-check-interval, --federation-rate and --federation-burst must be positive")
	}
	if c.TrackerMaxConnsPerIP == 0 || c.TrackerRate == 0 || c.MaxConnsPerIP == 0 {
		return errors.New("--tracker-max-conns-per-ip, --tracker-rate and --max-conns-per-ip must be positive, or -1 for no limit")
	}
	switch c.FederationAccept {
	case "manual", "open":
	case "allowlist":
		if len(c.FederationAllowlist) == 0 {
			return errors.New("--federation-accept allowlist needs --federation-allowlist")
		}
	default:
		return fmt.Errorf("--federation-accept %q: want manual, allowlist or open", c.FederationAccept)
	}
	if c.FederationMaxFriends <= 0 || c.FederationMaxVideos <= 0 || c.FederationMaxIntroductions <= 0 {
		return errors.New("--federation-max-friends, --federation-max-videos and --federation-max-introductions must be positive")
	}
	if c.DataDir == "" {
		return errors.New("--data must not be empty")
	}
	return nil
}

func (t *TURNConfig) parse(ip, ports string) error {
	if strings.EqualFold(t.Listen, "off") {
		t.Listen = ""
	} else if _, _, err := net.SplitHostPort(t.Listen); err != nil {
		return fmt.Errorf("--turn-listen %q: want host:port or off", t.Listen)
	}
	if ip != "" {
		if t.PublicIP = net.ParseIP(ip).To4(); t.PublicIP == nil {
			return fmt.Errorf("--turn-public-ip %q: want an IPv4 address", ip)
		}
	}
	if ports != "" {
		lo, hi, ok := strings.Cut(ports, "-")
		a, err1 := strconv.Atoi(lo)
		b, err2 := strconv.Atoi(hi)
		if !ok || err1 != nil || err2 != nil || a < 1 || b > 65535 || a > b {
			return fmt.Errorf("--turn-relay-ports %q: want MIN-MAX within 1-65535", ports)
		}
		t.RelayMinPort, t.RelayMaxPort = a, b
	}
	if !(t.MaxMbps > 0) {
		return errors.New("--turn-max-mbps must be positive")
	}
	return nil
}

// ParseICEServers reads a JSON array of RTCIceServer dictionaries; "urls"
// may be one string or an array, each a stun:, stuns:, turn: or turns: URI.
// An empty array is valid: no ICE servers at all.
func ParseICEServers(s string) ([]api.ICEServer, error) {
	var raw []struct {
		URLs       json.RawMessage `json:"urls"`
		Username   string          `json:"username"`
		Credential string          `json:"credential"`
	}
	if err := json.Unmarshal([]byte(s), &raw); err != nil {
		return nil, fmt.Errorf("not a JSON array of ICE servers: %w", err)
	}
	out := make([]api.ICEServer, 0, len(raw))
	for _, r := range raw {
		var urls []string
		var one string
		if err := json.Unmarshal(r.URLs, &one); err == nil {
			urls = []string{one}
		} else if err := json.Unmarshal(r.URLs, &urls); err != nil || len(urls) == 0 {
			return nil, errors.New(`each server needs "urls": a string or an array of strings`)
		}
		for _, u := range urls {
			scheme, _, _ := strings.Cut(u, ":")
			switch scheme {
			case "stun", "stuns", "turn", "turns":
			default:
				return nil, fmt.Errorf("%q is not a stun:, stuns:, turn: or turns: URI", u)
			}
			if (scheme == "turn" || scheme == "turns") && (r.Username == "" || r.Credential == "") {
				return nil, fmt.Errorf("%q needs a username and a credential", u)
			}
		}
		out = append(out, api.ICEServer{URLs: urls, Username: r.Username, Credential: r.Credential})
	}
	return out, nil
}

// finishTLS checks the HTTPS flags. Certificate files are read and matched
// here, so a wrong path, a permission problem or a key of another
// certificate stops the pod before it opens anything.
func (c *Config) finishTLS() error {
	switch {
	case (c.TLSCert == "") != (c.TLSKey == ""):
		return errors.New("--tls-cert and --tls-key go together: give both files")
	case c.TLSCert != "" && len(c.ACMEDomains) > 0:
		return errors.New("--tls-cert and --acme-domain exclude each other: use certificate files or ACME, not both")
	case c.HSTS < 0:
		return errors.New("--hsts must not be negative")
	}
	if c.TLSCert != "" {
		if err := checkKeyPair(c.TLSCert, c.TLSKey); err != nil {
			return err
		}
	}
	for i, d := range c.ACMEDomains {
		d = strings.ToLower(d)
		if !isDNSName(d) {
			return fmt.Errorf("--acme-domain %q: want a host name such as pod.example.org (no scheme, port or IP address)", d)
		}
		c.ACMEDomains[i] = d
	}
	if len(c.ACMEDomains) == 0 && (c.ACMEDirectory != "" || c.ACMEEmail != "" || c.ACMECARoots != "") {
		return errors.New("--acme-directory, --acme-email and --acme-ca-roots need --acme-domain")
	}
	if c.ACMEDirectory != "" {
		if u, err := url.Parse(c.ACMEDirectory); err != nil || u.Scheme != "https" || u.Host == "" {
			return fmt.Errorf("--acme-directory %q: want an https:// URL", c.ACMEDirectory)
		}
	}
	if c.ACMECARoots != "" {
		pem, err := os.ReadFile(c.ACMECARoots)
		if err != nil {
			return fmt.Errorf("--acme-ca-roots: cannot read %s: %w", c.ACMECARoots, errors.Unwrap(err))
		}
		if !x509.NewCertPool().AppendCertsFromPEM(pem) {
			return fmt.Errorf("--acme-ca-roots: %s holds no PEM certificate", c.ACMECARoots)
		}
	}
	if c.HTTPListen == "" && len(c.ACMEDomains) > 0 {
		c.HTTPListen = ":80"
	}
	if c.HTTPListen != "" {
		if !c.ServesTLS() {
			return errors.New("--http-listen redirects to the pod's https address: it needs --tls-cert or --acme-domain")
		}
		if _, _, err := net.SplitHostPort(c.HTTPListen); err != nil {
			return fmt.Errorf("--http-listen %q: %w", c.HTTPListen, err)
		}
	}
	return nil
}

// checkKeyPair reads a PEM certificate chain and its key, and says in plain
// words what is wrong with them.
func checkKeyPair(certFile, keyFile string) error {
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return fmt.Errorf("--tls-cert: cannot read %s: %w", certFile, errors.Unwrap(err))
	}
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		return fmt.Errorf("--tls-key: cannot read %s: %w", keyFile, errors.Unwrap(err))
	}
	if b, _ := pem.Decode(certPEM); b == nil || b.Type != "CERTIFICATE" {
		return fmt.Errorf("--tls-cert: %s is not a PEM certificate (it should begin with -----BEGIN CERTIFICATE-----)", certFile)
	}
	if b, _ := pem.Decode(keyPEM); b == nil || !strings.HasSuffix(b.Type, "PRIVATE KEY") {
		return fmt.Errorf("--tls-key: %s is not a PEM private key (it should begin with -----BEGIN ... PRIVATE KEY-----)", keyFile)
	}
	if _, err := tls.X509KeyPair(certPEM, keyPEM); err != nil {
		if strings.Contains(err.Error(), "does not match") {
			return fmt.Errorf("--tls-key: the key in %s is not the key of the certificate in %s", keyFile, certFile)
		}
		return fmt.Errorf("--tls-cert and --tls-key: %s and %s do not make a usable certificate: %w", certFile, keyFile, err)
	}
	return nil
}

// isDNSName reports whether s is a plain host name: dot-separated labels
// of letters, digits and hyphens, not an IP address.
func isDNSName(s string) bool {
	if s == "" || len(s) > 253 || net.ParseIP(s) != nil {
		return false
	}
	for _, l := range strings.Split(s, ".") {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for _, ch := range l {
			if !(ch >= 'a' && ch <= 'z' || ch >= '0' && ch <= '9' || ch == '-') {
				return false
			}
		}
	}
	return true
}

// synopsis heads the usage: every subcommand, then the pod's flags.
const synopsis = `usage:
  swarmtube [flags]                run a pod
  swarmtube import [flags] FILE    upload a video file to a running pod (swarmtube import --help)
  swarmtube admin COMMAND ...      users, reset-password, grant, revoke: accounts on a stopped
                                   pod's data directory (swarmtube admin --help)

Each flag may also be set as SWARMTUBE_<FLAG> (upper case, '-' as '_'); the
command line wins. Flags of the pod:
`

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// Getenv is os.Getenv, named for wiring.
var Getenv = os.Getenv
