package integration

import (
	"bytes"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/swarmtube/swarmtube/internal/testenv"
	"github.com/swarmtube/swarmtube/server/api"
	"github.com/swarmtube/swarmtube/server/identity"
)

// binary is the pod binary TestMain built.
var binary string

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	defer testenv.RemoveBuilt()
	var err error
	if binary, err = testenv.BuildPod(); err != nil {
		fmt.Fprintln(os.Stderr, "integration:", err)
		return 1
	}
	return m.Run()
}

// pod is one pod process.
type pod struct {
	t     *testing.T
	name  string
	url   string
	addr  string
	data  string
	flags []string
	log   *os.File
	cmd   *exec.Cmd
	exit  chan struct{}
	token string
}

// startPod starts a pod with a fresh data dir on a free loopback port.
func startPod(t *testing.T, name string, flags ...string) *pod {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	p := &pod{t: t, name: name, addr: addr, url: "http://" + addr, data: t.TempDir(), flags: flags}
	logf, err := os.Create(filepath.Join(t.TempDir(), name+".log"))
	if err != nil {
		t.Fatal(err)
	}
	p.log = logf
	t.Cleanup(func() {
		p.stop()
		logf.Close()
		if t.Failed() {
			if b, err := os.ReadFile(logf.Name()); err == nil {
				t.Logf("log of %s:\n%s", name, tail(b, 6000))
			}
		}
	})
	p.start()
	return p
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

func (p *pod) start() {
	t := p.t
	t.Helper()
	args := append([]string{"--listen", p.addr, "--url", p.url, "--data", p.data, "--name", p.name,
		"--bt-port", "0", "--admin-password", "admin-password", "--log-level", "debug", "--turn-listen", "off"}, append(slices.Clip(testenv.PodFlags), p.flags...)...)
	p.cmd = exec.Command(binary, args...)
	p.cmd.Stdout, p.cmd.Stderr = p.log, p.log
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p.exit = make(chan struct{})
	go func(cmd *exec.Cmd, exit chan struct{}) {
		_ = cmd.Wait()
		close(exit)
	}(p.cmd, p.exit)
	testenv.Eventually(t, 30*time.Second, "pod "+p.name+" to answer", func() bool {
		select {
		case <-p.exit:
			t.Fatalf("pod %s exited at start", p.name)
		default:
		}
		resp, err := http.Get(p.url + "/api/v1/pod")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	p.token = p.login()
}

// kill stops the pod with SIGKILL, as a crash would.
func (p *pod) kill() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.exit
}

// stop stops the pod with SIGTERM (SIGKILL after 15 s); idempotent.
func (p *pod) stop() {
	if p.cmd == nil || p.cmd.Process == nil {
		return
	}
	select {
	case <-p.exit:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exit:
	case <-time.After(15 * time.Second):
		p.kill()
	}
}

var client = &http.Client{Timeout: 30 * time.Second}

// call sends a JSON request as the admin and decodes a JSON answer into
// out; it returns the status.
func (p *pod) call(method, path string, body, out any) int {
	p.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, p.url+path, rd)
	if err != nil {
		p.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if p.token != "" {
		req.Header.Set("Authorization", "Bearer "+p.token)
	}
	resp, err := client.Do(req)
	if err != nil {
		p.t.Fatalf("%s %s%s: %v", method, p.url, path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if out != nil && len(data) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			p.t.Fatalf("%s %s: decode %q: %v", method, path, data, err)
		}
	}
	return resp.StatusCode
}

func (p *pod) login() string {
	p.t.Helper()
	p.token = ""
	var tok api.Token
	if code := p.call(http.MethodPost, "/api/v1/users/token", api.Credentials{Username: "admin", Password: "admin-password"}, &tok); code != http.StatusOK {
		p.t.Fatalf("login on %s: %d", p.name, code)
	}
	return tok.Token
}

func (p *pod) makeFriends(others ...*pod) api.MakeFriendsResult {
	p.t.Helper()
	var req api.MakeFriends
	for _, o := range others {
		req.Pods = append(req.Pods, o.url)
	}
	var res api.MakeFriendsResult
	if code := p.call(http.MethodPost, "/api/v1/pods/makefriends", req, &res); code != http.StatusOK || len(res.Errors) > 0 {
		p.t.Fatalf("makefriends on %s: %d %+v", p.name, code, res)
	}
	return res
}

func (p *pod) friends() map[string]api.Friend {
	p.t.Helper()
	var fl api.FriendList
	if code := p.call(http.MethodGet, "/api/v1/pods", nil, &fl); code != http.StatusOK {
		p.t.Fatalf("GET /api/v1/pods on %s: %d", p.name, code)
	}
	m := map[string]api.Friend{}
	for _, f := range fl.Data {
		m[f.URL] = f
	}
	return m
}

func (p *pod) videos() []api.Video {
	p.t.Helper()
	var vl api.VideoList
	if code := p.call(http.MethodGet, "/api/v1/videos?start=0&count=100", nil, &vl); code != http.StatusOK {
		p.t.Fatalf("list on %s: %d", p.name, code)
	}
	return vl.Data
}

func (p *pod) search(q string) []api.Video {
	p.t.Helper()
	var vl api.VideoList
	if code := p.call(http.MethodGet, "/api/v1/videos/search?q="+url.QueryEscape(q), nil, &vl); code != http.StatusOK {
		p.t.Fatalf("search on %s: %d", p.name, code)
	}
	return vl.Data
}

// upload publishes clip under name and returns the video (processing,
// when the pod transcodes it).
func (p *pod) upload(name string, clip []byte) api.Video {
	p.t.Helper()
	var v api.Video
	testenv.Upload(p.t, client, p.url, p.token, name, "a test clip", "clip.mp4", clip, &v)
	return v
}

func (p *pod) remove(id string) {
	p.t.Helper()
	if code := p.call(http.MethodDelete, "/api/v1/videos/"+id, nil, nil); code != http.StatusNoContent {
		p.t.Fatalf("delete %s on %s: %d", id, p.name, code)
	}
}

// key reads the pod's private key from its data dir, to sign requests as
// that pod would.
func (p *pod) key() *rsa.PrivateKey {
	p.t.Helper()
	id, err := identity.LoadOrCreate(p.data)
	if err != nil {
		p.t.Fatal(err)
	}
	return id.Key
}

// requireFederation skips (locally) or fails (CI) when the binary does not
// serve the routes these tests drive.
func requireFederation(t *testing.T, p *pod) {
	t.Helper()
	for _, probe := range []struct{ method, path string }{
		{http.MethodPost, "/api/v1/federation/events"},
		{http.MethodGet, "/api/v1/pods"},
		{http.MethodPost, "/api/v1/videos"},
	} {
		var ae api.Error
		p.call(probe.method, probe.path, nil, &ae)
		if ae.Error == "no_route" {
			msg := fmt.Sprintf("the pod binary does not serve %s %s: wire server/federation and server/videos into server/pod", probe.method, probe.path)
			if testenv.InCI() {
				t.Fatal(msg)
			}
			t.Skip(msg)
		}
	}
}

// clip is a 1 s faststart MP4.
func clip(t *testing.T) []byte {
	t.Helper()
	_, data := testenv.MakeClip(t, testenv.Clip{Faststart: true})
	return data
}

// names maps a listing to origin pod → names, for comparisons.
func names(vs []api.Video) map[string][]string {
	m := map[string][]string{}
	for _, v := range vs {
		m[v.Pod] = append(m[v.Pod], v.Name)
	}
	return m
}

func itoa(n int) string { return strconv.Itoa(n) }
