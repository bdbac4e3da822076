package main

import (
	"encoding/json"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/swarmtube/swarmtube/server/api"
)

// TestAdminCommands runs `swarmtube admin` on a real pod's data dir: it
// refuses while the pod runs, then lists users, grants and revokes rights
// and resets a password offline, and the restarted pod honours all of it
// (the old password and the old sessions no longer work).
func TestAdminCommands(t *testing.T) {
	bin := binary(t)
	data := t.TempDir()
	admin := func(args ...string) (string, int) {
		t.Helper()
		out, err := exec.Command(bin, append([]string{"admin"}, args...)...).CombinedOutput()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(out), "panic") {
			t.Fatalf("admin %v panicked:\n%s", args, out)
		}
		return string(out), code
	}
	post := func(base, path, body, token string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest("POST", base+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var tok api.Token
		json.NewDecoder(resp.Body).Decode(&tok)
		return resp.StatusCode, tok.Token
	}
	me := func(base, token string) int {
		req, _ := http.NewRequest("GET", base+"/api/v1/users/me", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}

	pod, base := startPodAt(t, bin, data)
	if code, _ := post(base, "/api/v1/users", `{"username":"alice","password":"old password"}`, ""); code != http.StatusCreated {
		t.Fatalf("register alice: %d", code)
	}
	_, oldToken := post(base, "/api/v1/users/token", `{"username":"alice","password":"old password"}`, "")
	out, code := admin("users", "--data", data)
	if code == 0 || !strings.Contains(out, "is in use by another swarmtube process (pid "+strconv.Itoa(pod.Process.Pid)+")") {
		t.Fatalf("admin users beside a running pod: status %d\n%s", code, out)
	}
	pod.Process.Signal(syscall.SIGTERM)
	pod.Wait()

	out, code = admin("users", "--data", data)
	if code != 0 || !strings.Contains(out, "admin") || !strings.Contains(out, "alice") {
		t.Fatalf("admin users: %d\n%s", code, out)
	}
	if out, code = admin("grant", "--data", data, "alice", "upload", "admin"); code != 0 || !strings.Contains(out, "alice now has: admin, upload") {
		t.Fatalf("grant: %d\n%s", code, out)
	}
	if out, code = admin("revoke", "--data", data, "alice", "admin"); code != 0 || !strings.Contains(out, "alice now has: upload") {
		t.Fatalf("revoke: %d\n%s", code, out)
	}
	if out, code = admin("grant", "--data", data, "alice", "root"); code == 0 || !strings.Contains(out, "rights are upload and admin") {
		t.Fatalf("grant of an unknown right: %d\n%s", code, out)
	}
	if out, code = admin("revoke", "--data", data, "admin", "admin"); code == 0 || !strings.Contains(out, "last admin") {
		t.Fatalf("revoking the last admin: %d\n%s", code, out)
	}
	if out, code = admin("reset-password", "--data", data, "nobody"); code == 0 || !strings.Contains(out, "no user has this name") {
		t.Fatalf("reset of an unknown user: %d\n%s", code, out)
	}
	if out, code = admin("reset-password", "--data", data, "--password", "new password", "alice"); code != 0 || !strings.Contains(out, "1 session(s) ended") {
		t.Fatalf("reset-password: %d\n%s", code, out)
	}
	out, code = admin("reset-password", "--data", data, "admin")
	if code != 0 || !strings.Contains(out, "new password: ") {
		t.Fatalf("reset-password with a generated password: %d\n%s", code, out)
	}
	adminPassword := strings.TrimSpace(out[strings.Index(out, "new password: ")+len("new password: "):])
	for _, args := range [][]string{{"--help"}, {"users", "--help"}, {"reset-password", "--help"}, {"grant", "--help"}, {"revoke", "--help"}} {
		if out, code := admin(args...); code != 0 || !strings.Contains(out, "usage") || strings.Contains(out, "help requested") {
			t.Errorf("admin %v: %d\n%s", args, code, out)
		}
	}

	_, base = startPodAt(t, bin, data)
	if code, _ := post(base, "/api/v1/users/token", `{"username":"alice","password":"old password"}`, ""); code != http.StatusUnauthorized {
		t.Errorf("old password after reset: %d, want 401", code)
	}
	if code := me(base, oldToken); code != http.StatusUnauthorized {
		t.Errorf("a session from before the reset: %d, want 401", code)
	}
	code, tok := post(base, "/api/v1/users/token", `{"username":"alice","password":"new password"}`, "")
	if code != http.StatusOK {
		t.Fatalf("new password: %d", code)
	}
	var u api.User
	req, _ := http.NewRequest("GET", base+"/api/v1/users/me", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	json.NewDecoder(resp.Body).Decode(&u)
	resp.Body.Close()
	if strings.Join(u.Rights, ",") != "upload" {
		t.Errorf("alice's rights after grant and revoke: %v, want [upload]", u.Rights)
	}
	if code, _ := post(base, "/api/v1/users/token", `{"username":"admin","password":"`+adminPassword+`"}`, ""); code != http.StatusOK {
		t.Errorf("admin with the generated password: %d", code)
	}
}
