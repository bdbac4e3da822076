package pod

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/swarmtube/swarmtube/server/api"
	"github.com/swarmtube/swarmtube/server/config"
)

// call sends method path with a JSON body (or none) as the bearer of tok
// and returns the status and body.
func call(t *testing.T, base, tok, method, path, body string) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, _ := http.NewRequest(method, base+path, rd)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// TestAccountLifecycle: a user changes their password (the old one
// required, other sessions end) and deletes their account with its videos;
// an admin suspends, reinstates and removes users; the last admin stays
// (issue 17 item 2).
func TestAccountLifecycle(t *testing.T) {
	p := startInProcess(t, "--default-rights", "upload")
	base := p.URL()
	for _, u := range []string{"alice", "bob"} {
		if st, b := call(t, base, "", "POST", "/api/v1/users", `{"username":"`+u+`","password":"`+u+` password"}`); st != 201 {
			t.Fatalf("register %s: %d %s", u, st, b)
		}
	}
	admin := loginHTTP(t, base, "admin", "admin-password")
	a1, a2 := loginHTTP(t, base, "alice", "alice password"), loginHTTP(t, base, "alice", "alice password")

	// Alice uploads a video.
	video := uploadVideo(t, nil, base, a1, "alice's clip", smallClip(t))

	// Password change: the current one is required; other sessions end.
	if st, _ := call(t, base, a1, "PUT", "/api/v1/users/me/password", `{"password":"wrong password","new_password":"new alice password"}`); st != 403 {
		t.Errorf("change with a wrong current password: %d, want 403", st)
	}
	if st, _ := call(t, base, a1, "PUT", "/api/v1/users/me/password", `{"password":"alice password","new_password":"short"}`); st != 400 {
		t.Errorf("change to a 5-character password: %d, want 400", st)
	}
	st, b := call(t, base, a1, "PUT", "/api/v1/users/me/password", `{"password":"alice password","new_password":"new alice password"}`)
	var fresh api.Token
	if st != 200 || json.Unmarshal(b, &fresh) != nil || fresh.Token == "" {
		t.Fatalf("change: %d %s", st, b)
	}
	for name, tok := range map[string]string{"first session": a1, "second session": a2} {
		if st, _ := call(t, base, tok, "GET", "/api/v1/users/me", ""); st != 401 {
			t.Errorf("%s after the change: %d, want 401", name, st)
		}
	}
	if st, _ := call(t, base, fresh.Token, "GET", "/api/v1/users/me", ""); st != 200 {
		t.Errorf("the changing session's new token: %d", st)
	}
	if st, _ := call(t, base, "", "POST", "/api/v1/users/token", `{"username":"alice","password":"alice password"}`); st != 401 {
		t.Errorf("login with the old password: %d", st)
	}

	// Suspension: no session, no login; reinstated, login works again.
	b1 := loginHTTP(t, base, "bob", "bob password")
	if st, _ := call(t, base, "", "PUT", "/api/v1/users/bob/suspended", `{"suspended":true}`); st != 401 {
		t.Errorf("anonymous suspension: %d", st)
	}
	if st, _ := call(t, base, fresh.Token, "PUT", "/api/v1/users/bob/suspended", `{"suspended":true}`); st != 403 {
		t.Errorf("suspension by a non-admin: %d", st)
	}
	if st, b := call(t, base, admin, "PUT", "/api/v1/users/bob/suspended", `{"suspended":true}`); st != 200 || !strings.Contains(string(b), `"suspended":true`) {
		t.Fatalf("suspend: %d %s", st, b)
	}
	if st, _ := call(t, base, b1, "GET", "/api/v1/users/me", ""); st != 401 {
		t.Errorf("a suspended user's session: %d, want 401", st)
	}
	if st, b := call(t, base, "", "POST", "/api/v1/users/token", `{"username":"bob","password":"bob password"}`); st != 403 || !strings.Contains(string(b), "suspended") {
		t.Errorf("a suspended user's login: %d %s", st, b)
	}
	if st, _ := call(t, base, admin, "PUT", "/api/v1/users/bob/suspended", `{"suspended":false}`); st != 200 {
		t.Errorf("reinstate: %d", st)
	}
	loginHTTP(t, base, "bob", "bob password")
	if st, _ := call(t, base, admin, "PUT", "/api/v1/users/admin/suspended", `{"suspended":true}`); st != 409 {
		t.Errorf("suspending the last admin: %d, want 409", st)
	}
	if st, _ := call(t, base, admin, "DELETE", "/api/v1/users/admin", ""); st != 409 {
		t.Errorf("removing the last admin: %d, want 409", st)
	}

	// Alice deletes her account: her video goes with it.
	if st, _ := call(t, base, fresh.Token, "DELETE", "/api/v1/users/me", `{"password":"wrong password"}`); st != 403 {
		t.Errorf("delete with a wrong password: %d", st)
	}
	if st, b := call(t, base, fresh.Token, "DELETE", "/api/v1/users/me", `{"password":"new alice password"}`); st != 204 {
		t.Fatalf("delete: %d %s", st, b)
	}
	if st, _ := call(t, base, "", "GET", "/api/v1/videos/"+video.ID, ""); st != 404 {
		t.Errorf("the deleted user's video: %d, want 404", st)
	}
	if st, _ := call(t, base, fresh.Token, "GET", "/api/v1/users/me", ""); st != 401 {
		t.Errorf("the deleted user's session: %d", st)
	}
	// The admin removes bob.
	if st, _ := call(t, base, admin, "DELETE", "/api/v1/users/bob", ""); st != 204 {
		t.Errorf("admin removes bob: %d", st)
	}
	if st, b := call(t, base, admin, "GET", "/api/v1/users", ""); st != 200 || strings.Contains(string(b), `"alice"`) || strings.Contains(string(b), `"bob"`) {
		t.Errorf("users after the removals: %d %s", st, b)
	}
}

// TestMeOptional: a visitor's page asks who is there with ?optional=true
// and gets 204, not a 401 that browsers log as an error (issue 17 item 25).
func TestMeOptional(t *testing.T) {
	p := startInProcess(t)
	if st, _ := call(t, p.URL(), "", "GET", "/api/v1/users/me?optional=true", ""); st != 204 {
		t.Errorf("anonymous optional: %d, want 204", st)
	}
	if st, _ := call(t, p.URL(), "", "GET", "/api/v1/users/me", ""); st != 401 {
		t.Errorf("anonymous: %d, want 401", st)
	}
	tok := loginHTTP(t, p.URL(), "admin", "admin-password")
	if st, b := call(t, p.URL(), tok, "GET", "/api/v1/users/me?optional=true", ""); st != 200 || !strings.Contains(string(b), `"admin"`) {
		t.Errorf("logged in: %d %s", st, b)
	}
}

// TestFailedStartCreatesNoAdmin: a start that fails (here the BitTorrent
// port is taken) creates no admin, so the next, good start creates it and
// shows its one-time password (before, the password went to the failed
// start's log and was lost).
func TestFailedStartCreatesNoAdmin(t *testing.T) {
	data := t.TempDir()
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	_, busyPort, _ := net.SplitHostPort(busy.Addr().String())
	start := func(btPort string) (*Pod, string, error) {
		cfg, err := config.Parse([]string{"--listen", "127.0.0.1:0", "--data", data, "--bt-port", btPort, "--turn-listen", "off"}, func(string) string { return "" })
		if err != nil {
			t.Fatal(err)
		}
		var logs bytes.Buffer
		p, err := New(cfg, slog.New(slog.NewTextHandler(&logs, nil)))
		return p, logs.String(), err
	}
	if _, logs, err := start(busyPort); err == nil || strings.Contains(logs, "shown only once") {
		t.Fatalf("a start on a busy port: err %v, logs %s", err, logs)
	}
	p, logs, err := start("0")
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if !strings.Contains(logs, "shown only once") {
		t.Errorf("the first good start did not show the admin password: %s", logs)
	}
}
