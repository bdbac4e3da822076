package federation

import (
	"context"
	"crypto/rsa"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	bolt "go.etcd.io/bbolt"
	"golang.org/x/time/rate"

	"github.com/swarmtube/swarmtube/server/api"
	"github.com/swarmtube/swarmtube/server/federation/fedproto"
	"github.com/swarmtube/swarmtube/server/federation/outbox"
	"github.com/swarmtube/swarmtube/server/identity"
	"github.com/swarmtube/swarmtube/server/store"
)

// Catalog is what federation needs from the video catalogue
// (server/videos implements it). The Tx methods run inside federation's
// write transactions, so a batch of events and its bookkeeping commit
// together; they return an error wrapping fedproto.ErrInvalid for a video
// they refuse, which federation reports to the sender and skips (any other
// error aborts the transaction).
type Catalog interface {
	// LocalVideosAfter lists at most n videos this pod is the origin of,
	// in increasing id order, with ids above after ("" for the first).
	LocalVideosAfter(after string, n int) ([]api.Video, error)
	// HasRemoteTx reports whether video id of origin is stored.
	HasRemoteTx(tx *bolt.Tx, origin, id string) bool
	// PutRemoteTx inserts or replaces video v (v.ID as on origin) of the
	// friend at origin.
	PutRemoteTx(tx *bolt.Tx, origin string, v api.Video) error
	// RemoveRemoteTx removes video id of origin; an unknown id is no error.
	RemoveRemoteTx(tx *bolt.Tx, origin string, id string) error
	// DropPodTx removes every video of origin.
	DropPodTx(tx *bolt.Tx, origin string) error
}

// Mirrors is what federation needs from the pod's mirrors (issue 18;
// server/mirrors implements it). Its Tx methods run inside federation's
// write transactions, like Catalog's, and refuse a bad mirror with an
// error wrapping fedproto.ErrInvalid.
type Mirrors interface {
	// MirrorTx records that friend pod holds a copy of the video m names
	// (kind fedproto.EventMirror) or no longer does (EventUnmirror).
	MirrorTx(tx *bolt.Tx, pod, kind string, m fedproto.MirrorRef) error
	// VideoArrivedTx runs when a friend's video is stored (an event or a
	// catalogue page): mirrors announced before the video was known here
	// are listed now.
	VideoArrivedTx(tx *bolt.Tx, origin, id string) error
	// OriginRemovedTx runs when the video id of origin is removed there:
	// a copy held here goes too.
	OriginRemovedTx(tx *bolt.Tx, origin, id string) error
	// PodGoneTx forgets every mirror friend pod announced (it quit or was
	// ejected).
	PodGoneTx(tx *bolt.Tx, pod string) error
}

// Accept policies for introductions this pod did not ask for
// (Config.Accept, --federation-accept).
const (
	AcceptManual    = "manual"    // each waits for an admin (the default)
	AcceptAllowlist = "allowlist" // pods in Config.Allowlist are accepted, others wait
	AcceptOpen      = "open"      // every confirmed pod is accepted (test networks)
)

// Scores. A friend starts at ScoreInitial; Config.Penalty is taken for
// each failed delivery or refused event and Config.Reward given for each
// success, up to ScoreMax. Below Config.ScoreMin it is ejected.
const (
	ScoreInitial = 100
	ScoreMax     = 100
)

// Statuses, as listed by GET /api/v1/pods.
const (
	StatusPending     = "pending"     // an introduction waiting for this pod's admin
	StatusRefused     = "refused"     // an introduction this pod's admin refused
	StatusRequested   = "requested"   // this pod asked; waiting for the other pod's admin
	StatusSyncing     = "syncing"     // both consented; catalogues are being paged
	StatusActive      = "active"      // last contact succeeded
	StatusUnreachable = "unreachable" // the last deliveries failed
	StatusEjected     = "ejected"     // removed for a low score
)

// Config configures the service. Zero values take the defaults noted.
type Config struct {
	SelfURL string // this pod's public base URL
	Name    string // this pod's name
	// ScoreMin: friends whose score falls below it are ejected (default 0).
	ScoreMin int
	// Seeds are pods to make friends with at start (the --friends list);
	// Run retries them until each succeeds or has a permanent error.
	Seeds []string

	// Accept is the policy for introductions this pod did not ask for:
	// AcceptManual (default), AcceptAllowlist or AcceptOpen. Allowlist
	// holds pod URLs (scheme, host and port must match) and domains (the
	// host or any subdomain of it).
	Accept    string
	Allowlist []string
	// AllowPrivate lets fetches made on someone else's behalf reach
	// loopback, private and link-local addresses (test networks only).
	AllowPrivate bool
	// MaxFriends bounds friend records in any state (64); MaxFriendVideos
	// the videos kept per friend (50,000); MaxIntroductions the friends
	// learnt from one friend's answer that this pod introduces itself to
	// (20).
	MaxFriends       int
	MaxFriendVideos  int
	MaxIntroductions int
	// MaxRequests bounds introductions waiting for the admin (256).
	MaxRequests int

	Penalty int // score taken per failed delivery or refused event (2)
	Reward  int // score given per successful delivery (1)
	// ReportPenalty is taken from a friend another friend reports as
	// ejected, at most once per reporter and hour (10).
	ReportPenalty int

	BatchSize      int           // events per delivery (50, at most fedproto.MaxBatchEvents)
	RetryMin       time.Duration // first retry delay after a failed delivery (1 s)
	RetryMax       time.Duration // longest retry delay (5 min)
	HealthInterval time.Duration // heartbeat to friends with nothing to deliver (5 min)
	RequestTimeout time.Duration // per outbound request (10 s)
	HelloTimeout   time.Duration // per introduction an admin asked for, catalogue included (60 s)
	// IntroTimeout bounds each introduction learnt from a friend (10 s);
	// they run concurrently.
	IntroTimeout time.Duration
	// ConfirmTimeout bounds the fetch confirming an introduction's key,
	// and every failure to confirm is answered when it has passed (5 s).
	ConfirmTimeout time.Duration
	MaxParallel    int // deliveries in flight at once (16)

	// Rate is the sustained rate of federation requests accepted from one
	// friend, Burst its bucket (20/s, 40).
	Rate  rate.Limit
	Burst int
	// UnauthRate and UnauthBurst limit, per client IP, requests that do not
	// come from a friend: introductions and refused ones (1/s, 10).
	UnauthRate  rate.Limit
	UnauthBurst int
	// FetchRate and FetchBurst limit, per client IP, the fetches this pod
	// makes on behalf of introductions it did not ask for (0.2/s, 5).
	FetchRate  rate.Limit
	FetchBurst int

	// Mirrors receives friends' mirror events and follows their videos
	// and friendships (server/mirrors, made before this service); nil:
	// mirror events are refused.
	Mirrors Mirrors

	// HTTPClient sends pod-to-pod requests (default: NewClient, which
	// refuses non-public addresses unless AllowPrivate; timeouts come from
	// contexts). A client given here is used as is.
	HTTPClient *http.Client
	// Now is the clock (default time.Now); tests move it.
	Now func() time.Time
}

func (c *Config) defaults() error {
	self, err := fedproto.NormalizePodURL(c.SelfURL)
	if err != nil {
		return fmt.Errorf("federation: self URL: %w", err)
	}
	c.SelfURL = self
	if c.Name == "" {
		c.Name = self
	}
	setDefault(&c.Penalty, 2)
	setDefault(&c.Reward, 1)
	setDefault(&c.ReportPenalty, 10)
	setDefault(&c.BatchSize, 50)
	c.BatchSize = min(c.BatchSize, fedproto.MaxBatchEvents)
	setDefault(&c.RetryMax, 5*time.Minute)
	setDefault(&c.RetryMin, min(time.Second, c.RetryMax))
	c.RetryMax = max(c.RetryMax, c.RetryMin)
	setDefault(&c.HealthInterval, 5*time.Minute)
	setDefault(&c.RequestTimeout, 10*time.Second)
	setDefault(&c.HelloTimeout, 60*time.Second)
	setDefault(&c.IntroTimeout, 10*time.Second)
	setDefault(&c.ConfirmTimeout, 5*time.Second)
	setDefault(&c.FetchRate, 0.2)
	setDefault(&c.FetchBurst, 5)
	setDefault(&c.MaxFriends, 64)
	setDefault(&c.MaxFriendVideos, 50_000)
	setDefault(&c.MaxIntroductions, 20)
	setDefault(&c.MaxRequests, 256)
	switch c.Accept {
	case "":
		c.Accept = AcceptManual
	case AcceptManual, AcceptAllowlist, AcceptOpen:
	default:
		return fmt.Errorf("federation: accept policy %q is not manual, allowlist or open", c.Accept)
	}
	for i, a := range c.Allowlist {
		if strings.Contains(a, "://") {
			n, err := fedproto.NormalizePodURL(a)
			if err != nil {
				return fmt.Errorf("federation: allowlist: %w", err)
			}
			c.Allowlist[i] = n
		} else if a = strings.ToLower(strings.Trim(strings.TrimSpace(a), ".")); a == "" || strings.ContainsAny(a, "/:@") {
			return fmt.Errorf("federation: allowlist: %q is neither a pod URL nor a domain", c.Allowlist[i])
		} else {
			c.Allowlist[i] = a
		}
	}
	setDefault(&c.MaxParallel, 16)
	setDefault(&c.Rate, 20)
	setDefault(&c.Burst, 40)
	setDefault(&c.UnauthRate, 1)
	setDefault(&c.UnauthBurst, 10)
	if c.HTTPClient == nil {
		c.HTTPClient = NewClient(c.AllowPrivate)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return nil
}

func setDefault[T int | time.Duration | rate.Limit](v *T, d T) {
	if *v <= 0 {
		*v = d
	}
}

// Service is the pod's federation: friends, the outbox and its delivery
// worker, and the signed pod-to-pod routes. It is safe for concurrent use.
type Service struct {
	cfg     Config
	st      *store.Store
	id      *identity.Identity
	cat     Catalog
	mirrors Mirrors // nil: mirror events are refused
	log     *slog.Logger
	metrics *metrics
	host    string // Host of SelfURL, which signed requests must name

	podLimits    *limiters // per friend, after authentication
	unauthLimits *limiters // per client IP, for everything else
	fetchLimits  *limiters // per client IP, fetches made for introductions
	replays      *replayCache
	out          *outbox.Outbox // the events the worker delivers

	logLimit *rate.Limiter // samples logs of refused requests

	// Background work started by handlers (telling friends of an
	// ejection) runs under bgCtx; Close cancels it and waits.
	bgCtx    context.Context
	bgCancel context.CancelFunc
	bg       sync.WaitGroup
	bgMu     sync.Mutex // guards bgClosed
	bgClosed bool

	mu sync.Mutex // guards the following fields
	// keys caches parsed public keys by PEM text.
	keys map[string]*rsa.PublicKey
	// wake holds friends to contact at once regardless of backoff (they
	// just showed they are up).
	wake map[string]bool
	// reports remembers (reporter, target) ejection reports for an hour.
	reports map[[2]string]time.Time
	// busy holds pods an introduction is under way with; the worker
	// leaves them alone and a second introduction waits its turn.
	busy map[string]bool
}

// New opens federation's buckets. out is the pod's outbox (outbox.New in
// the same store, for the same URL), whose events the worker delivers;
// New opens its queue for every friend that lacks one and closes the
// others (openQueues). Call Routes to serve, Run to deliver.
func New(cfg Config, st *store.Store, id *identity.Identity, cat Catalog, out *outbox.Outbox, log *slog.Logger, reg prometheus.Registerer) (*Service, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	if st == nil || id == nil || cat == nil || out == nil || log == nil {
		return nil, errors.New("federation: store, identity, catalog, outbox and logger are required")
	}
	if out.Self() != cfg.SelfURL {
		return nil, fmt.Errorf("federation: the outbox is %s's, not %s's", out.Self(), cfg.SelfURL)
	}
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	if err := st.Buckets(bucketFriends, bucketEjected, bucketRequests); err != nil {
		return nil, err
	}
	if err := st.Update(openQueues); err != nil {
		return nil, fmt.Errorf("federation: friends' queues: %w", err)
	}
	u, _ := url.Parse(cfg.SelfURL) // validated by defaults
	s := &Service{
		cfg:          cfg,
		st:           st,
		id:           id,
		cat:          cat,
		mirrors:      cfg.Mirrors,
		log:          log,
		host:         u.Host,
		podLimits:    newLimiters(cfg.Rate, cfg.Burst),
		unauthLimits: newLimiters(cfg.UnauthRate, cfg.UnauthBurst),
		fetchLimits:  newLimiters(cfg.FetchRate, cfg.FetchBurst),
		replays:      newReplayCache(100_000),
		logLimit:     rate.NewLimiter(2, 20),
		out:          out,
		keys:         make(map[string]*rsa.PublicKey),
		wake:         make(map[string]bool),
		reports:      make(map[[2]string]time.Time),
		busy:         make(map[string]bool),
	}
	s.bgCtx, s.bgCancel = context.WithCancel(context.Background())
	m, err := newMetrics(reg, s)
	if err != nil {
		return nil, err
	}
	s.metrics = m
	return s, nil
}

// Penalize lowers friend's score for reason as a failed delivery does
// (Config.Penalty), ejecting it below ScoreMin. Mirrors use it for a
// friend whose copy of a video fails a check.
func (s *Service) Penalize(friend, reason string) { s.penalize(friend, reason) }

// Self describes this pod to others.
func (s *Service) Self() fedproto.PodRef {
	return fedproto.PodRef{URL: s.cfg.SelfURL, Name: s.cfg.Name, APIVersions: []string{fedproto.Version}, PublicKey: s.id.PublicKeyPEM}
}

// publicKey parses (once) a PEM public key.
func (s *Service) publicKey(pemText string) (*rsa.PublicKey, error) {
	s.mu.Lock()
	k, ok := s.keys[pemText]
	s.mu.Unlock()
	if ok {
		return k, nil
	}
	k, err := identity.ParsePublicKey(pemText)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	if len(s.keys) > 10_000 { // keys of long-gone friends: start over
		clear(s.keys)
	}
	s.keys[pemText] = k
	s.mu.Unlock()
	return k, nil
}

// signal wakes the delivery worker without blocking.
func (s *Service) signal() { s.out.Signal() }

// wakeFriend makes the worker contact friend at once, backoff or not.
func (s *Service) wakeFriend(friend string) {
	s.mu.Lock()
	s.wake[friend] = true
	s.mu.Unlock()
	s.signal()
}

// Friends lists friends (requested, syncing, active, unreachable),
// introductions waiting for the admin (pending) or refused, and ejected
// pods: friends first, then requests, then ejected, each by URL.
func (s *Service) Friends() ([]api.Friend, error) {
	out := []api.Friend{}
	err := s.st.View(func(tx *bolt.Tx) error {
		out = out[:0]
		if err := forEachFriend(tx, func(f *friendRecord) error {
			out = append(out, api.Friend{
				URL: f.URL, Name: f.Name, Score: f.Score, Status: f.status(),
				LastSeen: f.LastSeen, Pending: outbox.PendingTx(tx, f.URL), Videos: f.Videos,
			})
			return nil
		}); err != nil {
			return err
		}
		rb := tx.Bucket([]byte(bucketRequests))
		if err := rb.ForEach(func(k, _ []byte) error {
			var r requestRecord
			if err := store.GetJSON(rb, k, &r); err != nil {
				return err
			}
			st := StatusPending
			if r.Refused {
				st = StatusRefused
			}
			out = append(out, api.Friend{URL: string(k), Name: r.Name, Status: st, RequestedAt: r.At})
			return nil
		}); err != nil {
			return err
		}
		eb := tx.Bucket([]byte(bucketEjected))
		return eb.ForEach(func(k, v []byte) error {
			var e ejectedRecord
			if err := store.GetJSON(eb, k, &e); err != nil {
				return err
			}
			out = append(out, api.Friend{URL: string(k), Name: e.Name, Score: e.Score, Status: StatusEjected, LastSeen: e.LastSeen})
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("federation: list friends: %w", err)
	}
	rank := func(st string) int {
		switch st {
		case StatusPending, StatusRefused:
			return 1
		case StatusEjected:
			return 2
		}
		return 0
	}
	slices.SortStableFunc(out, func(a, b api.Friend) int {
		if d := rank(a.Status) - rank(b.Status); d != 0 {
			return d
		}
		return strings.Compare(a.URL, b.URL)
	})
	return out, nil
}

// allowlisted reports whether pod (normalized) is on Config.Allowlist:
// the same URL, or a host equal to or under a listed domain.
func (s *Service) allowlisted(pod string) bool {
	u, err := url.Parse(pod)
	if err != nil {
		return false
	}
	host := strings.ToLower(u.Hostname())
	for _, a := range s.cfg.Allowlist {
		if strings.Contains(a, "://") {
			if a == pod {
				return true
			}
		} else if host == a || strings.HasSuffix(host, "."+a) {
			return true
		}
	}
	return false
}

// claim marks an introduction with pod under way; false if one is.
func (s *Service) claim(pod string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.busy[pod] {
		return false
	}
	s.busy[pod] = true
	return true
}

func (s *Service) release(pod string) {
	s.mu.Lock()
	delete(s.busy, pod)
	s.mu.Unlock()
}

// Run delivers queued events and checks friends' health until ctx is
// done, introducing this pod to Config.Seeds meanwhile. It returns nil
// when ctx ends.
func (s *Service) Run(ctx context.Context) error {
	defer s.Close()
	var wg sync.WaitGroup
	defer wg.Wait()
	if len(s.cfg.Seeds) > 0 {
		wg.Go(func() { s.seed(ctx) })
	}
	return s.deliverLoop(ctx)
}

// background runs fn in a goroutine owned by the service, unless it is
// closed.
func (s *Service) background(fn func(ctx context.Context)) {
	s.bgMu.Lock()
	defer s.bgMu.Unlock()
	if s.bgClosed {
		return
	}
	s.bg.Go(func() { fn(s.bgCtx) })
}

// Close stops background work and waits for it. It is idempotent; Run
// calls it when it returns.
func (s *Service) Close() error {
	s.bgMu.Lock()
	s.bgClosed = true
	s.bgMu.Unlock()
	s.bgCancel()
	s.bg.Wait()
	return nil
}
