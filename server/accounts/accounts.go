package accounts

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	bolt "go.etcd.io/bbolt"
	"golang.org/x/crypto/argon2"
	"golang.org/x/text/unicode/norm"

	"github.com/swarmtube/swarmtube/server/api"
	"github.com/swarmtube/swarmtube/server/httpx"
	"github.com/swarmtube/swarmtube/server/store"
	"github.com/swarmtube/swarmtube/server/throttle"
)

const (
	bucketUsers  = "users"
	bucketTokens = "tokens"

	// AdminUsername is the account created at first start.
	AdminUsername = "admin"

	minPasswordLen = 8
	maxPasswordLen = 1024
)

// Errors returned by the service; all are *httpx.Error so handlers answer
// them as they are.
var (
	ErrInvalidUsername = &httpx.Error{Status: http.StatusBadRequest, Code: "invalid_username",
		Message: "usernames are 3 to 32 characters: letters a-z, digits, '_', '.' or '-', starting with a letter or digit"}
	ErrInvalidPassword = &httpx.Error{Status: http.StatusBadRequest, Code: "invalid_password",
		Message: fmt.Sprintf("passwords are at least %d characters and at most %d bytes", minPasswordLen, maxPasswordLen)}
	ErrUsernameTaken = &httpx.Error{Status: http.StatusConflict, Code: "username_taken", Message: "this username is already taken"}
	ErrBadLogin      = &httpx.Error{Status: http.StatusUnauthorized, Code: "bad_credentials", Message: "wrong username or password", Challenge: httpx.BearerChallenge}
	ErrNoSuchUser    = &httpx.Error{Status: http.StatusNotFound, Code: "no_such_user", Message: "no user has this name"}
	ErrInvalidRight  = &httpx.Error{Status: http.StatusBadRequest, Code: "invalid_right", Message: `rights are "upload" and "admin"`}
	ErrLastAdmin     = &httpx.Error{Status: http.StatusConflict, Code: "last_admin", Message: "the last admin cannot lose the admin right"}
	ErrClosed        = &httpx.Error{Status: http.StatusForbidden, Code: "registration_closed", Message: "registration on this pod is closed; ask its admin for an account"}
)

// 401s say how to authenticate (httpx.Error.Challenge).
var (
	// ErrInvalidToken: a token (or cookie) that is not, or no longer, a
	// session's; RFC 6750 §3.1's invalid_token in the challenge.
	ErrInvalidToken = &httpx.Error{Status: http.StatusUnauthorized, Code: "invalid_token", Message: "the token is unknown or expired: log in again",
		Challenge: httpx.BearerChallenge + `, error="invalid_token"`}
	// ErrAuthScheme: an Authorization header of another scheme (Basic…).
	ErrAuthScheme = &httpx.Error{Status: http.StatusUnauthorized, Code: "invalid_token", Message: "send the token as Authorization: Bearer <token>",
		Challenge: httpx.BearerChallenge + `, error="invalid_request"`}
)

// ErrAdminPasswordIgnored is returned by EnsureAdmin when the admin
// exists already and the password it was given is not the admin's: a
// password is set only when the account is created, and the caller must
// say so rather than let the host believe it took effect (issue 17 item
// 1). `swarmtube admin reset-password` changes it.
var ErrAdminPasswordIgnored = errors.New("accounts: the admin exists; its password was not changed")

var usernameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]{2,31}$`)

// Config tunes the service.
type Config struct {
	OpenRegistration bool
	DefaultRights    []string      // rights of self-registered users
	TokenTTL         time.Duration // default 30 days
	CookieName       string        // session cookie name; default CookieName
	// Video quotas of users with no figure of their own, in bytes: the
	// total size of their videos and of what they upload in 24 hours.
	// Zero (the zero Config) or negative means unlimited; to keep users
	// from uploading, do not give them the upload right (see quota.go).
	DefaultVideoQuota, DefaultVideoQuotaDaily int64
	// Argon2id cost; zero values mean the OWASP-recommended 19 MiB, 2 passes.
	ArgonMemoryKiB uint32
	ArgonTime      uint32
	// MaxHashes bounds concurrent password hashes (default twice the
	// cores); see limits.go.
	MaxHashes int
	// OnDelete removes what a user owns (their videos, federated) before
	// the account goes; nil: nothing to remove.
	OnDelete func(ctx context.Context, username string) error
	// Metrics registers the login metrics; nil: none.
	Metrics prometheus.Registerer
}

// User is the stored account.
type User struct {
	Username     string    `json:"username"`
	PasswordHash string    `json:"password_hash"`
	Rights       []string  `json:"rights"`
	CreatedAt    time.Time `json:"created_at"`
	// VideoQuota and VideoQuotaDaily are this user's own quotas in bytes
	// (-1 unlimited); nil means the pod's default (Config).
	VideoQuota      *int64 `json:"video_quota,omitempty"`
	VideoQuotaDaily *int64 `json:"video_quota_daily,omitempty"`
	// Suspended users cannot log in; their sessions ended at suspension.
	Suspended bool `json:"suspended,omitempty"`
}

// Has reports whether the user holds right.
func (u User) Has(right string) bool { return slices.Contains(u.Rights, right) }

// Public returns the API view of the user.
func (u User) Public() api.User {
	r := u.Rights
	if r == nil {
		r = []string{}
	}
	return api.User{Username: u.Username, Rights: r, CreatedAt: u.CreatedAt, Suspended: u.Suspended}
}

type tokenRecord struct {
	Username  string    `json:"username"`
	ExpiresAt time.Time `json:"expires_at"`
}

// Service manages accounts in the store. It is safe for concurrent use.
type Service struct {
	st  *store.Store
	log *slog.Logger
	cfg Config
	now func() time.Time
	// dummyHash keeps a failed login for an unknown user as slow as one for
	// a known user, so timing does not reveal which usernames exist.
	dummyHash string

	hashSlots chan struct{} // one token per running password hash
	byAddr    *throttle.Table
	byAccount *throttle.Table
	known     *lruSet // account/address pairs that logged in
	m         *metrics
}

// New opens the accounts buckets.
func New(st *store.Store, cfg Config, log *slog.Logger) (*Service, error) {
	if cfg.TokenTTL == 0 {
		cfg.TokenTTL = 30 * 24 * time.Hour
	}
	if cfg.CookieName == "" {
		cfg.CookieName = CookieName
	}
	if cfg.ArgonMemoryKiB == 0 {
		cfg.ArgonMemoryKiB = 19 * 1024
	}
	if cfg.ArgonTime == 0 {
		cfg.ArgonTime = 2
	}
	if err := ValidRights(cfg.DefaultRights); err != nil {
		return nil, fmt.Errorf("accounts: default rights: %w", err)
	}
	if err := st.Buckets(bucketUsers, bucketTokens); err != nil {
		return nil, err
	}
	if cfg.MaxHashes <= 0 {
		cfg.MaxHashes = defaultMaxHashes()
	}
	s := &Service{st: st, log: log, cfg: cfg, now: time.Now,
		hashSlots: make(chan struct{}, cfg.MaxHashes),
		m:         newMetrics(cfg.Metrics),
		known:     newLRUSet(knownPairs),
	}
	clock := func() time.Time { return s.now() } // tests move s.now
	s.byAddr, s.byAccount = throttle.New(addrPolicy, clock), throttle.New(accountPolicy, clock)
	h, err := s.hash(context.Background(), "not a real password")
	if err != nil {
		return nil, err
	}
	s.dummyHash = h
	return s, nil
}

// OpenRegistration reports whether anyone may register.
func (s *Service) OpenRegistration() bool { return s.cfg.OpenRegistration }

// ValidRights checks that every right is known and none repeats.
func ValidRights(rights []string) error {
	seen := map[string]bool{}
	for _, r := range rights {
		if (r != api.RightUpload && r != api.RightAdmin) || seen[r] {
			return ErrInvalidRight
		}
		seen[r] = true
	}
	return nil
}

// NormalizeUsername lower-cases name and checks it against the rules.
func NormalizeUsername(name string) (string, error) {
	n := strings.ToLower(name)
	// "me" and "token" name routes under /api/v1/users/.
	if !usernameRE.MatchString(n) || n == "me" || n == "token" {
		return "", ErrInvalidUsername
	}
	return n, nil
}

func checkPassword(p string) error {
	if utf8.RuneCountInString(p) < minPasswordLen || len(p) > maxPasswordLen || !utf8.ValidString(p) {
		return ErrInvalidPassword
	}
	return nil
}

// EnsureAdmin creates the admin account at first start. If password is
// empty a random one is generated and returned so the caller can show it
// once; an existing admin is left untouched and "" is returned, with
// ErrAdminPasswordIgnored when password is given and is not the admin's.
func (s *Service) EnsureAdmin(ctx context.Context, password string) (generated string, err error) {
	u, err := s.Get(AdminUsername)
	switch {
	case err == nil && password != "" && !verifyPassword(u.PasswordHash, password):
		return "", ErrAdminPasswordIgnored
	case err == nil:
		return "", nil
	case !errors.Is(err, ErrNoSuchUser):
		return "", err
	}
	if password == "" {
		generated = randomToken(18)
		password = generated
	}
	if _, err := s.Register(ctx, AdminUsername, password, []string{api.RightAdmin, api.RightUpload}); err != nil && !errors.Is(err, ErrUsernameTaken) {
		return "", fmt.Errorf("accounts: create admin: %w", err)
	}
	return generated, nil
}

// Register creates a user with the given rights.
func (s *Service) Register(ctx context.Context, username, password string, rights []string) (User, error) {
	name, err := NormalizeUsername(username)
	if err != nil {
		return User{}, err
	}
	if err := checkPassword(password); err != nil {
		return User{}, err
	}
	if err := ValidRights(rights); err != nil {
		return User{}, err
	}
	hash, err := s.hash(ctx, password)
	if err != nil {
		return User{}, err
	}
	u := User{Username: name, PasswordHash: hash, Rights: slices.Clone(rights), CreatedAt: s.now().UTC().Truncate(time.Millisecond)}
	err = s.st.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(bucketUsers))
		if b.Get([]byte(name)) != nil {
			return ErrUsernameTaken
		}
		return store.PutJSON(b, []byte(name), u)
	})
	if err != nil {
		return User{}, err
	}
	s.log.InfoContext(ctx, "user registered", "username", name, "rights", rights)
	return u, nil
}

// Get returns a user by name.
func (s *Service) Get(username string) (User, error) {
	var u User
	err := s.st.View(func(tx *bolt.Tx) error {
		return store.GetJSON(tx.Bucket([]byte(bucketUsers)), []byte(strings.ToLower(username)), &u)
	})
	if errors.Is(err, store.ErrNotFound) {
		return User{}, ErrNoSuchUser
	}
	return u, err
}

// List returns every user, sorted by name.
func (s *Service) List() ([]User, error) {
	var users []User
	err := s.st.View(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte(bucketUsers)).ForEach(func(k, v []byte) error {
			var u User
			if err := store.GetJSON(tx.Bucket([]byte(bucketUsers)), k, &u); err != nil {
				return err
			}
			users = append(users, u)
			return nil
		})
	})
	return users, err
}

// SetRights replaces a user's rights. The last admin keeps the admin right.
func (s *Service) SetRights(ctx context.Context, username string, rights []string) (User, error) {
	if err := ValidRights(rights); err != nil {
		return User{}, err
	}
	var u User
	err := s.st.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(bucketUsers))
		if err := store.GetJSON(b, []byte(strings.ToLower(username)), &u); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return ErrNoSuchUser
			}
			return err
		}
		if u.Has(api.RightAdmin) && !slices.Contains(rights, api.RightAdmin) {
			admins := 0
			if err := b.ForEach(func(k, v []byte) error {
				var o User
				if err := store.GetJSON(b, k, &o); err != nil {
					return err
				}
				if o.Has(api.RightAdmin) {
					admins++
				}
				return nil
			}); err != nil {
				return err
			}
			if admins <= 1 {
				return ErrLastAdmin
			}
		}
		u.Rights = slices.Clone(rights)
		return store.PutJSON(b, []byte(u.Username), u)
	})
	if err != nil {
		return User{}, err
	}
	s.log.InfoContext(ctx, "rights changed", "username", u.Username, "rights", rights)
	return u, nil
}

// SetPassword replaces a user's password and ends every session of that
// user (their tokens are deleted), so whoever knew the old password is
// logged out. It returns the number of sessions ended.
func (s *Service) SetPassword(ctx context.Context, username, password string) (ended int, err error) {
	if err := checkPassword(password); err != nil {
		return 0, err
	}
	hash, err := s.hash(ctx, password)
	if err != nil {
		return 0, err
	}
	name := strings.ToLower(username)
	err = s.st.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(bucketUsers))
		var u User
		if err := store.GetJSON(b, []byte(name), &u); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return ErrNoSuchUser
			}
			return err
		}
		u.PasswordHash = hash
		if err := store.PutJSON(b, []byte(name), u); err != nil {
			return err
		}
		n, err := endSessionsTx(tx, name)
		ended = n
		return err
	})
	if err != nil {
		return 0, err
	}
	s.log.InfoContext(ctx, "password reset", "username", name, "sessions_ended", ended)
	return ended, nil
}

// Login checks a password and issues a new token.
func (s *Service) Login(ctx context.Context, username, password string) (api.Token, error) {
	u, err := s.Get(username)
	if err != nil {
		if errors.Is(err, ErrNoSuchUser) {
			if err := s.withHashSlot(ctx, func() { _ = verifyPassword(s.dummyHash, password) }); err != nil {
				return api.Token{}, err
			}
			return api.Token{}, ErrBadLogin
		}
		return api.Token{}, err
	}
	var ok bool
	if err := s.withHashSlot(ctx, func() { ok = verifyPassword(u.PasswordHash, password) }); err != nil {
		return api.Token{}, err
	}
	if !ok {
		return api.Token{}, ErrBadLogin
	}
	if u.Suspended { // told only to whoever knows the password
		return api.Token{}, ErrSuspended
	}
	return s.issueToken(u.Username)
}

// issueToken creates a session token for username.
func (s *Service) issueToken(username string) (api.Token, error) {
	tok := randomToken(32)
	rec := tokenRecord{Username: username, ExpiresAt: s.now().Add(s.cfg.TokenTTL).UTC().Truncate(time.Second)}
	if err := s.st.Update(func(tx *bolt.Tx) error {
		return store.PutJSON(tx.Bucket([]byte(bucketTokens)), tokenKey(tok), rec)
	}); err != nil {
		return api.Token{}, err
	}
	return api.Token{Token: tok, ExpiresAt: rec.ExpiresAt}, nil
}

// Authenticate returns the user a token belongs to.
func (s *Service) Authenticate(token string) (User, error) {
	if token == badScheme {
		return User{}, ErrAuthScheme
	}
	if token == "" || len(token) > 128 {
		return User{}, httpx.ErrUnauthorized
	}
	var rec tokenRecord
	err := s.st.View(func(tx *bolt.Tx) error {
		return store.GetJSON(tx.Bucket([]byte(bucketTokens)), tokenKey(token), &rec)
	})
	if errors.Is(err, store.ErrNotFound) || (err == nil && s.now().After(rec.ExpiresAt)) {
		return User{}, ErrInvalidToken
	}
	if err != nil {
		return User{}, err
	}
	u, err := s.Get(rec.Username)
	if errors.Is(err, ErrNoSuchUser) || (err == nil && u.Suspended) {
		return User{}, httpx.ErrUnauthorized
	}
	return u, err
}

// Logout revokes a token.
func (s *Service) Logout(token string) error {
	return s.st.Update(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte(bucketTokens)).Delete(tokenKey(token))
	})
}

// Run deletes expired tokens every hour until ctx is done.
func (s *Service) Run(ctx context.Context) error {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		if n, err := s.sweepTokens(); err != nil {
			s.log.WarnContext(ctx, "token sweep failed", "err", err)
		} else if n > 0 {
			s.log.DebugContext(ctx, "expired tokens removed", "count", n)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

func (s *Service) sweepTokens() (int, error) {
	n := 0
	now := s.now()
	err := s.st.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(bucketTokens))
		var dead [][]byte
		if err := b.ForEach(func(k, v []byte) error {
			var rec tokenRecord
			if err := store.GetJSON(b, k, &rec); err != nil || now.After(rec.ExpiresAt) {
				dead = append(dead, slices.Clone(k))
			}
			return nil
		}); err != nil {
			return err
		}
		for _, k := range dead {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		n = len(dead)
		return nil
	})
	return n, err
}

func tokenKey(tok string) []byte {
	h := sha256.Sum256([]byte(tok))
	return h[:]
}

func randomToken(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms
	return base64.RawURLEncoding.EncodeToString(b)
}

// hash returns an argon2id PHC string.
// It holds a hashing slot while it runs.
func (s *Service) hash(ctx context.Context, password string) (string, error) {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("accounts: salt: %w", err)
	}
	var key []byte
	if err := s.withHashSlot(ctx, func() {
		key = argon2.IDKey([]byte(normalizePassword(password)), salt, s.cfg.ArgonTime, s.cfg.ArgonMemoryKiB, 1, 32)
	}); err != nil {
		return "", err
	}
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=1$%s$%s", argon2.Version, s.cfg.ArgonMemoryKiB, s.cfg.ArgonTime,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key)), nil
}

// normalizePassword is what is hashed of a password: its NFKC form, as NIST
// SP 800-63B §5.1.1.2 asks of verifiers that accept Unicode, so the same
// password typed where accents compose differently (NFC "ä", NFD "a" and
// U+0308: macOS file names, some input methods) or with compatibility
// forms (full-width letters, "ﬁ") is the same password. It failed to log
// in before.
func normalizePassword(p string) string { return norm.NFKC.String(p) }

// verifyPassword checks password against a PHC argon2id string, using the
// parameters stored in it so costs can be raised without breaking old hashes.
// Hashes made before passwords were normalised hold the bytes as typed, so
// a password that normalisation changes is also checked as it is (a second
// hash only for such passwords, inside the same slot).
func verifyPassword(phc, password string) bool {
	n := normalizePassword(password)
	return verifyKey(phc, n) || (n != password && verifyKey(phc, password))
}

// verifyKey checks the bytes of password against a PHC argon2id string.
func verifyKey(phc, password string) bool {
	parts := strings.Split(phc, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false
	}
	var m, t uint32
	var p uint8
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil || m == 0 || t == 0 || p == 0 || m > 1<<20 || t > 16 {
		return false
	}
	salt, err1 := base64.RawStdEncoding.DecodeString(parts[4])
	want, err2 := base64.RawStdEncoding.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(want) == 0 {
		return false
	}
	got := argon2.IDKey([]byte(password), salt, t, m, p, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1
}
