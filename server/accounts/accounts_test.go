package accounts

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/argon2"

	"github.com/swarmtube/swarmtube/server/api"
	"github.com/swarmtube/swarmtube/server/httpx"
	"github.com/swarmtube/swarmtube/server/store"
)

func newService(t *testing.T, cfg Config) *Service {
	t.Helper()
	st, err := store.Open(filepath.Join(t.TempDir(), "t.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	cfg.ArgonMemoryKiB, cfg.ArgonTime = 64, 1 // cheap hashes keep the tests fast
	s, err := New(st, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestRegisterValidation(t *testing.T) {
	t.Parallel()
	s := newService(t, Config{OpenRegistration: true})
	tests := []struct {
		name, user, pass string
		rights           []string
		want             error
	}{
		{"ok", "alice", "correct horse", nil, nil},
		{"upper case folds", "Bob_1", "correct horse", nil, nil},
		{"taken, case-insensitively", "ALICE", "correct horse", nil, ErrUsernameTaken},
		{"too short", "al", "correct horse", nil, ErrInvalidUsername},
		{"too long", strings.Repeat("a", 33), "correct horse", nil, ErrInvalidUsername},
		{"max length", strings.Repeat("a", 32), "correct horse", nil, nil},
		{"space", "al ice", "correct horse", nil, ErrInvalidUsername},
		{"leading dot", ".alice", "correct horse", nil, ErrInvalidUsername},
		{"unicode", "élodie", "correct horse", nil, ErrInvalidUsername},
		{"markup", "<b>x</b>", "correct horse", nil, ErrInvalidUsername},
		{"short password", "carol", "1234567", nil, ErrInvalidPassword},
		{"8 runes ok", "dave", "ééééééée", nil, nil},
		{"huge password", "erin", strings.Repeat("p", 1025), nil, ErrInvalidPassword},
		{"invalid utf8 password", "frank", "abcdefgh\xff", nil, ErrInvalidPassword},
		{"unknown right", "grace", "correct horse", []string{"root"}, ErrInvalidRight},
		{"duplicate right", "heidi", "correct horse", []string{"upload", "upload"}, ErrInvalidRight},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.Register(context.Background(), tc.user, tc.pass, tc.rights)
			if !errors.Is(err, tc.want) && !(tc.want == nil && err == nil) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
}

func TestLoginTokensAndExpiry(t *testing.T) {
	t.Parallel()
	s := newService(t, Config{TokenTTL: time.Hour})
	ctx := context.Background()
	if _, err := s.Register(ctx, "alice", "correct horse", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Login(ctx, "alice", "wrong horse"); !errors.Is(err, ErrBadLogin) {
		t.Fatalf("wrong password: %v", err)
	}
	if _, err := s.Login(ctx, "nobody", "correct horse"); !errors.Is(err, ErrBadLogin) {
		t.Fatalf("unknown user: %v", err)
	}
	tok, err := s.Login(ctx, "Alice", "correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if u, err := s.Authenticate(tok.Token); err != nil || u.Username != "alice" {
		t.Fatalf("authenticate: %v %v", u, err)
	}
	s.now = func() time.Time { return time.Now().Add(2 * time.Hour) }
	if _, err := s.Authenticate(tok.Token); err == nil {
		t.Fatal("expired token accepted")
	}
	if n, err := s.sweepTokens(); err != nil || n != 1 {
		t.Fatalf("sweep: %d %v", n, err)
	}
	s.now = time.Now
	tok2, _ := s.Login(ctx, "alice", "correct horse")
	if err := s.Logout(tok2.Token); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(tok2.Token); err == nil {
		t.Fatal("revoked token accepted")
	}
}

func TestLastAdminKeepsRight(t *testing.T) {
	t.Parallel()
	s := newService(t, Config{})
	ctx := context.Background()
	if pw, err := s.EnsureAdmin(ctx, ""); err != nil || pw == "" {
		t.Fatalf("EnsureAdmin: %q %v", pw, err)
	}
	// A password given for an existing admin is not taken, and the caller
	// is told so (it used to be ignored without a word: issue 17 item 1).
	if pw, err := s.EnsureAdmin(ctx, "ignored-now"); !errors.Is(err, ErrAdminPasswordIgnored) || pw != "" {
		t.Fatalf("second EnsureAdmin must keep the admin and say the password was ignored: %q %v", pw, err)
	}
	if _, err := s.Login(ctx, "admin", "ignored-now"); !errors.Is(err, ErrBadLogin) {
		t.Fatalf("the ignored password logs in: %v", err)
	}
	if _, err := s.SetRights(ctx, "admin", []string{"upload"}); !errors.Is(err, ErrLastAdmin) {
		t.Fatalf("got %v", err)
	}
	if _, err := s.Register(ctx, "second", "correct horse", []string{"admin"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SetRights(ctx, "admin", []string{"upload"}); err != nil {
		t.Fatalf("with two admins: %v", err)
	}
	if _, err := s.SetRights(ctx, "ghost", nil); !errors.Is(err, ErrNoSuchUser) {
		t.Fatalf("ghost: %v", err)
	}
}

// server mounts the account routes plus a protected upload route, through
// the same middleware chain the pod uses.
func server(t *testing.T, cfg Config) (*Service, *httptest.Server) {
	t.Helper()
	s := newService(t, cfg)
	log := slog.New(slog.DiscardHandler)
	if _, err := s.EnsureAdmin(context.Background(), "admin-password"); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	s.Routes(mux, log)
	mux.Handle("POST /api/v1/videos", Require(log, api.RightUpload, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusCreated)
	}))
	ts := httptest.NewServer(httpx.Chain(mux, httpx.Recover(log), s.Middleware(log)))
	t.Cleanup(ts.Close)
	return s, ts
}

type call struct {
	method, path, body, token string
	header                    map[string]string
	wantStatus                int
	wantCode                  string // API error code, for errors
}

func do(t *testing.T, ts *httptest.Server, c call) []byte {
	t.Helper()
	req, _ := http.NewRequest(c.method, ts.URL+c.path, strings.NewReader(c.body))
	if c.body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	for k, v := range c.header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != c.wantStatus {
		t.Fatalf("%s %s: status %d, want %d: %s", c.method, c.path, resp.StatusCode, c.wantStatus, body)
	}
	if c.wantCode != "" {
		var e api.Error
		if err := json.Unmarshal(body, &e); err != nil || e.Error != c.wantCode || e.Message == "" {
			t.Fatalf("%s %s: body %s, want error code %q with a message", c.method, c.path, body, c.wantCode)
		}
	}
	// RFC 9110 §11.6.1: a 401 says how to authenticate (none did).
	if ch := resp.Header.Get("WWW-Authenticate"); resp.StatusCode == http.StatusUnauthorized && !strings.HasPrefix(ch, httpx.BearerChallenge) {
		t.Errorf("%s %s: 401 with WWW-Authenticate %q", c.method, c.path, ch)
	}
	return body
}

func login(t *testing.T, ts *httptest.Server, user, pass string) string {
	t.Helper()
	var tok api.Token
	if err := json.Unmarshal(do(t, ts, call{method: "POST", path: "/api/v1/users/token", body: `{"username":"` + user + `","password":"` + pass + `"}`, wantStatus: 200}), &tok); err != nil {
		t.Fatal(err)
	}
	return tok.Token
}

func TestHTTPFlow(t *testing.T) {
	t.Parallel()
	_, ts := server(t, Config{OpenRegistration: true})
	admin := login(t, ts, "admin", "admin-password")
	steps := []call{
		{method: "POST", path: "/api/v1/users", body: `{"username":"alice","password":"correct horse"}`, wantStatus: 201},
		{method: "POST", path: "/api/v1/users", body: `{"username":"alice","password":"correct horse"}`, wantStatus: 409, wantCode: "username_taken"},
		{method: "POST", path: "/api/v1/users", body: `{"username":"x","password":"correct horse"}`, wantStatus: 400, wantCode: "invalid_username"},
		{method: "POST", path: "/api/v1/users", body: `{"username":"bob","password":"short"}`, wantStatus: 400, wantCode: "invalid_password"},
		{method: "POST", path: "/api/v1/users", body: `{"username":"bob","password":"correct horse","rights":["admin"]}`, wantStatus: 403, wantCode: "forbidden"},
		{method: "POST", path: "/api/v1/users", body: `{"username":"bob","password":"correct horse","admin":true}`, wantStatus: 400, wantCode: "invalid_json"},
		{method: "POST", path: "/api/v1/users", body: `{"username":"bob"`, wantStatus: 400, wantCode: "invalid_json"},
		{method: "POST", path: "/api/v1/users", body: `{"username":"bob","password":"correct horse"} {}`, wantStatus: 400, wantCode: "invalid_json"},
		{method: "POST", path: "/api/v1/users", body: `{"username":5}`, wantStatus: 400, wantCode: "invalid_json"},
		{method: "POST", path: "/api/v1/users", body: `{"username":"bob","password":"` + strings.Repeat("a", 9000) + `"}`, wantStatus: 413, wantCode: "too_large"},
		{method: "POST", path: "/api/v1/users", body: `{"username":"bob","password":"correct horse"}`, header: map[string]string{"Content-Type": "text/plain"}, wantStatus: 415, wantCode: "unsupported_media_type"},
		{method: "POST", path: "/api/v1/users", body: "", wantStatus: 400, wantCode: "invalid_json"},
		{method: "POST", path: "/api/v1/users/token", body: `{"username":"alice","password":"nope nope"}`, wantStatus: 401, wantCode: "bad_credentials"},
		{method: "GET", path: "/api/v1/users/me", wantStatus: 401, wantCode: "unauthorized"},
		{method: "GET", path: "/api/v1/users/me", token: "forged", wantStatus: 401, wantCode: "invalid_token"},
		{method: "GET", path: "/api/v1/users/me", header: map[string]string{"Authorization": "Basic YTpi"}, wantStatus: 401, wantCode: "invalid_token"},
		{method: "GET", path: "/api/v1/users", token: admin, wantStatus: 200},
		// The scheme is case-insensitive (RFC 9110 §11.1): "bearer" was refused.
		{method: "GET", path: "/api/v1/users", header: map[string]string{"Authorization": "bearer " + admin}, wantStatus: 200},
		{method: "GET", path: "/api/v1/users", header: map[string]string{"Authorization": "BEARER  " + admin}, wantStatus: 200},
		{method: "PUT", path: "/api/v1/users/nobody/rights", token: admin, body: `{"rights":["upload"]}`, wantStatus: 404, wantCode: "no_such_user"},
		{method: "PUT", path: "/api/v1/users/alice/rights", token: admin, body: `{"rights":["superuser"]}`, wantStatus: 400, wantCode: "invalid_right"},
		{method: "PUT", path: "/api/v1/users/alice/rights", token: admin, body: `{}`, wantStatus: 400, wantCode: "invalid_json"},
		{method: "PUT", path: "/api/v1/users/admin/rights", token: admin, body: `{"rights":[]}`, wantStatus: 409, wantCode: "last_admin"},
	}
	for _, c := range steps {
		do(t, ts, c)
	}

	alice := login(t, ts, "alice", "correct horse")
	var me api.User
	json.Unmarshal(do(t, ts, call{method: "GET", path: "/api/v1/users/me", token: alice, wantStatus: 200}), &me)
	if me.Username != "alice" || len(me.Rights) != 0 {
		t.Fatalf("me = %+v", me)
	}
	// No upload right yet: 403; the admin grants it: 201. Only admins edit rights.
	do(t, ts, call{method: "POST", path: "/api/v1/videos", token: alice, wantStatus: 403, wantCode: "forbidden"})
	do(t, ts, call{method: "POST", path: "/api/v1/videos", wantStatus: 401, wantCode: "unauthorized"})
	do(t, ts, call{method: "PUT", path: "/api/v1/users/alice/rights", token: alice, body: `{"rights":["upload"]}`, wantStatus: 403, wantCode: "forbidden"})
	do(t, ts, call{method: "GET", path: "/api/v1/users", token: alice, wantStatus: 403, wantCode: "forbidden"})
	do(t, ts, call{method: "PUT", path: "/api/v1/users/alice/rights", token: admin, body: `{"rights":["upload"]}`, wantStatus: 200})
	do(t, ts, call{method: "POST", path: "/api/v1/videos", token: alice, wantStatus: 201})

	// Logout revokes the token.
	do(t, ts, call{method: "DELETE", path: "/api/v1/users/token", token: alice, wantStatus: 204})
	do(t, ts, call{method: "GET", path: "/api/v1/users/me", token: alice, wantStatus: 401, wantCode: "invalid_token"})
}

func TestClosedRegistration(t *testing.T) {
	t.Parallel()
	_, ts := server(t, Config{OpenRegistration: false})
	do(t, ts, call{method: "POST", path: "/api/v1/users", body: `{"username":"alice","password":"correct horse"}`, wantStatus: 403, wantCode: "registration_closed"})
	admin := login(t, ts, "admin", "admin-password")
	var u api.User
	json.Unmarshal(do(t, ts, call{method: "POST", path: "/api/v1/users", token: admin, body: `{"username":"alice","password":"correct horse","rights":["upload"]}`, wantStatus: 201}), &u)
	if len(u.Rights) != 1 || u.Rights[0] != "upload" {
		t.Fatalf("admin-created user: %+v", u)
	}
}

func TestCookieSession(t *testing.T) {
	t.Parallel()
	_, ts := server(t, Config{OpenRegistration: true, CookieName: CookieName + "_test"})
	do(t, ts, call{method: "POST", path: "/api/v1/users", body: `{"username":"alice","password":"correct horse"}`, wantStatus: 201})
	resp, err := http.Post(ts.URL+"/api/v1/users/token", "application/json", bytes.NewBufferString(`{"username":"alice","password":"correct horse"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var cookie *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == CookieName+"_test" {
			cookie = c
		}
	}
	if cookie == nil || !cookie.HttpOnly || cookie.SameSite != http.SameSiteLaxMode {
		t.Fatalf("session cookie missing or weak: %+v", cookie)
	}
	get := func(method, origin string) int {
		req, _ := http.NewRequest(method, ts.URL+"/api/v1/users/me", nil)
		if method == "DELETE" {
			req.URL.Path = "/api/v1/users/token"
		}
		req.AddCookie(cookie)
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if s := get("GET", ""); s != 200 {
		t.Fatalf("cookie GET me: %d", s)
	}
	if s := get("DELETE", "http://evil.example"); s != 403 {
		t.Fatalf("cross-origin cookie DELETE: %d, want 403", s)
	}
	if s := get("DELETE", ts.URL); s != 204 {
		t.Fatalf("same-origin cookie logout: %d", s)
	}
	// A stale cookie leaves the viewer anonymous instead of failing the page.
	if s := get("GET", ""); s != 401 {
		t.Fatalf("after logout: %d, want 401", s)
	}
}

// TestPasswordNormalized: a password is the same whichever Unicode form
// it is typed in (NFC "ä" or NFD "a" + U+0308, full-width letters): NIST
// SP 800-63B §5.1.1.2 asks for NFKC. An account registered with the
// composed form could not log in with the decomposed one. Hashes made
// before, of the bytes as typed, still verify.
func TestPasswordNormalized(t *testing.T) {
	t.Parallel()
	s := newService(t, Config{TokenTTL: time.Hour})
	ctx := context.Background()
	nfc, nfd := "p\u00e4ssw\u00f6rd here", "pa\u0308sswo\u0308rd here"
	if _, err := s.Register(ctx, "umlaut", nfc, nil); err != nil {
		t.Fatal(err)
	}
	for _, pw := range []string{nfc, nfd} {
		if _, err := s.Login(ctx, "umlaut", pw); err != nil {
			t.Errorf("login with %+q: %v", pw, err)
		}
	}
	if _, err := s.Register(ctx, "wide", "\uff50\uff41\uff53\uff53\uff57\uff4f\uff52\uff44", nil); err != nil { // ｐａｓｓｗｏｒｄ
		t.Fatal(err)
	}
	if _, err := s.Login(ctx, "wide", "password"); err != nil {
		t.Errorf("full-width password typed in ASCII: %v", err)
	}
	if _, err := s.Login(ctx, "umlaut", "passwo\u0308rd here"); !errors.Is(err, ErrBadLogin) {
		t.Errorf("another password: %v", err)
	}
	// A hash of the decomposed bytes themselves, as made before.
	salt := []byte("0123456789abcdef")
	key := argon2.IDKey([]byte(nfd), salt, 1, 64, 1, 32)
	old := fmt.Sprintf("$argon2id$v=%d$m=64,t=1,p=1$%s$%s", argon2.Version,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key))
	if !verifyPassword(old, nfd) {
		t.Error("a hash made before normalisation no longer verifies")
	}
}
