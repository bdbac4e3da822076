package clientlab

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/swarmtube/swarmtube/internal/netlab"
	"github.com/swarmtube/swarmtube/internal/testenv"
	"github.com/swarmtube/swarmtube/shared/torrentfile"
)

const (
	podAddr     = "203.0.113.1"
	podBTPort   = 6881
	adminPass   = "clientlab-admin"
	clientLimit = 3 * time.Minute // per download; Transmission alone waits ~10 s to say "interested"
)

// binary returns the pod binary: $SWARMTUBE_CLIENTLAB_POD, or
// ./server/cmd/swarmtube built once per test process.
func binary(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("SWARMTUBE_CLIENTLAB_POD"); p != "" {
		return p
	}
	return testenv.PodBinary(t)
}

func TestMain(m *testing.M) {
	code := m.Run()
	testenv.RemoveBuilt()
	os.Exit(code)
}

// pod is a pod process on the lab's host 203.0.113.1.
type pod struct {
	base  string // http://<host>:8080
	host  *netlab.Host
	http  *http.Client
	token string
	log   string
}

// video is the part of the API's video JSON the tests use.
type video struct {
	ID         string `json:"id"`
	InfoHash   string `json:"info_hash"`
	Magnet     string `json:"magnet"`
	TorrentURL string `json:"torrent_url"`
	WebseedURL string `json:"webseed_url"`
}

// startPod runs the pod binary on host with its HTTP server on :8080 and
// its seeder on :6881, and logs in as admin. The pod the clients use is
// on 203.0.113.1.
func startPod(t *testing.T, host *netlab.Host, flags ...string) *pod {
	t.Helper()
	bin := binary(t)
	dir := t.TempDir()
	p := &pod{host: host, http: host.HTTPClient(), log: filepath.Join(dir, "pod.log"), base: "http://" + host.Addr().String() + ":8080"}
	p.http.Timeout = 30 * time.Second
	logf, err := os.Create(p.log)
	if err != nil {
		t.Fatal(err)
	}
	cmd := host.Command(context.Background(), bin, append([]string{
		"--listen", strings.TrimPrefix(p.base, "http://"), "--url", p.base, "--data", filepath.Join(dir, "data"),
		"--bt-port", fmt.Sprint(podBTPort), "--admin-password", adminPass, "--log-level", "debug"}, append(slices.Clip(testenv.PodFlags), flags...)...)...)
	cmd.Stdout, cmd.Stderr = logf, logf
	t.Cleanup(func() { // after the pod has stopped
		logf.Close()
		if t.Failed() {
			logTail(t, "pod log", p.log)
		}
	})
	exited := testenv.Start(t, cmd)
	testenv.Eventually(t, 60*time.Second, "the pod to answer", func() bool {
		select {
		case <-exited:
			logTail(t, "pod log", p.log)
			t.Fatal("the pod exited at start")
		default:
		}
		resp, err := p.http.Get(p.base + "/api/v1/pod")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	var tok struct {
		Token string `json:"token"`
	}
	body, _ := json.Marshal(map[string]string{"username": "admin", "password": adminPass})
	p.do(t, "POST", "/api/v1/users/token", "application/json", bytes.NewReader(body), &tok)
	p.token = tok.Token
	return p
}

// do sends a request to the pod and decodes its JSON answer into out,
// failing the test on any status but 2xx.
func (p *pod) do(t *testing.T, method, path, contentType string, body io.Reader, out any) {
	t.Helper()
	testenv.CallAPI(t, p.http, method, p.base+path, p.token, contentType, body, out)
}

// get returns the body of a GET of url (a URL the pod published).
func (p *pod) get(t *testing.T, url string) []byte {
	t.Helper()
	resp, err := p.http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s (%v)", url, resp.Status, err)
	}
	return b
}

// upload publishes the file at path and returns the video.
func (p *pod) upload(t *testing.T, path, name string) video {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var v video
	testenv.Upload(t, p.http, p.base, p.token, name, "", filepath.Base(path), data, &v)
	return v
}

// published is a video as clients get it, web seeds removed, plus the
// bytes they must end up with.
type published struct {
	name    string // file name in the torrent
	torrent []byte // .torrent without url-list
	magnet  string // magnet without ws=
	data    []byte // the file the pod serves
}

// publish generates a clip of the given length and bitrate, uploads it and returns it
// as clients see it, without web seeds.
func publish(t *testing.T, p *pod, seconds, mbits int) published {
	t.Helper()
	clip := makeClip(t, seconds, mbits)
	v := p.upload(t, clip, "clientlab clip")
	mi, _, err := torrentfile.Parse(p.get(t, v.TorrentURL))
	if err != nil {
		t.Fatal(err)
	}
	mi.URLList = nil
	tb, err := mi.Bencode()
	if err != nil {
		t.Fatal(err)
	}
	ml, err := torrentfile.ParseMagnet(v.Magnet)
	if err != nil {
		t.Fatal(err)
	}
	ml.WebSeeds = nil
	pub := published{name: mi.Info.Name, torrent: tb, magnet: ml.String(), data: p.get(t, v.WebseedURL)}
	if int64(len(pub.data)) != mi.Info.Length {
		t.Fatalf("web seed gave %d bytes, torrent says %d", len(pub.data), mi.Info.Length)
	}
	return pub
}

// makeClip encodes a test clip of the given length and bitrate (Mbit/s).
func makeClip(t *testing.T, seconds, mbits int) string {
	t.Helper()
	rate := fmt.Sprintf("%dM", mbits)
	path, _ := testenv.MakeClip(t, testenv.Clip{Seconds: seconds, Width: 640, Height: 360, Rate: 25,
		Filter: "noise=alls=30:allf=t", // noise keeps the bitrate (and the piece count) up
		Args:   []string{"-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-b:v", rate, "-maxrate", rate, "-bufsize", rate}})
	return path
}

// logTail logs the last lines of a file.
func logTail(t *testing.T, what, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		return
	}
	var keep [][]byte
	for _, line := range bytes.Split(bytes.ReplaceAll(b, []byte("\r"), []byte("\n")), []byte("\n")) {
		if len(bytes.TrimSpace(line)) > 0 && !bytes.HasPrefix(line, []byte("Progress: ")) {
			keep = append(keep, line) // not Transmission's progress lines
		}
	}
	b = bytes.Join(keep, []byte("\n"))
	if len(b) > 12000 {
		b = b[len(b)-12000:]
	}
	t.Logf("%s (%s):\n%s", what, path, b)
}
