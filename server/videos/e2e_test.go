package videos

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/swarmtube/swarmtube/internal/testenv"
	"github.com/swarmtube/swarmtube/server/seeder"
	"github.com/swarmtube/swarmtube/server/webseed"
	"github.com/swarmtube/swarmtube/shared/torrentfile"
)

// TestEndToEndSeeding uploads a clip (moov last, so the pod rewrites it),
// downloads it with aria2c from the real seeder over TCP, checks the web
// seed's range answers, then restarts the service and seeder on the same
// data and downloads again: the seeder resumes from recorded piece
// completion without reading (re-hashing) the file.
func TestEndToEndSeeding(t *testing.T) {
	aria2 := testenv.LookPath(t, "aria2c")
	_, slow := clips(t)
	p := newPod(t)
	log := slog.New(slog.DiscardHandler)
	seederDir := filepath.Join(p.dir, "seeder")
	startSeeder := func() *seeder.Seeder {
		s, err := seeder.New(seeder.Config{DataDir: seederDir, ListenAddr: "127.0.0.1"}, log, nil)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	sd := startSeeder()
	// Serve the pod with the real seeder, a web seed and a minimal HTTP
	// tracker at the announce URL the torrent names, pointing at the seeder.
	restart := func(sd *seeder.Seeder) {
		p.close()
		p.open(sd)
		mux := p.srv.Config.Handler
		extra := http.NewServeMux()
		extra.Handle("GET /static/webseed/{file}", http.StripPrefix("/static/webseed/", webseed.New(p.svc.ResolveWebseed, log, prometheus.NewRegistry())))
		extra.HandleFunc("GET /tracker/announce", func(w http.ResponseWriter, r *http.Request) {
			// As the pod's tracker does: wake the seeder for the torrent
			// (after a restart SeedAll only registers it).
			var ih [20]byte
			copy(ih[:], r.URL.Query().Get("info_hash"))
			sd.Wake(r.Context(), ih)
			peer := binary.BigEndian.AppendUint16(net.IPv4(127, 0, 0, 1).To4(), uint16(sd.Port()))
			fmt.Fprintf(w, "d8:intervali60e5:peers6:%se", peer)
		})
		extra.Handle("/", mux)
		p.srv.Config.Handler = extra
	}
	restart(sd)
	status, v, code := p.upload("alice", "End to end", "", slow)
	if status != http.StatusCreated {
		t.Fatalf("upload: %d %s", status, code)
	}
	stored, err := os.ReadFile(filepath.Join(p.dir, "videos", v.ID+".mp4"))
	if err != nil {
		t.Fatal(err)
	}
	resp, tb := p.do("", "GET", "/api/v1/videos/"+v.ID+"/torrent", nil, nil)
	if resp.StatusCode != 200 {
		t.Fatalf("torrent: %d", resp.StatusCode)
	}
	mi, ih, err := torrentfile.Parse(tb)
	if err != nil || hex.EncodeToString(ih[:]) != v.InfoHash {
		t.Fatalf("torrent: %v", err)
	}
	// aria2 gets the same info dictionary with only the HTTP tracker and no
	// url-list, so every byte must come from the seeder over TCP.
	bare, err := torrentfile.Metainfo{Info: mi.Info, AnnounceList: [][]string{{p.srv.URL + "/tracker/announce"}}}.Bencode()
	if err != nil {
		t.Fatal(err)
	}
	if got := aria2Fetch(t, aria2, bare, mi.Info.Name); !bytes.Equal(got, stored) {
		t.Fatalf("aria2 got %d bytes, differing from the %d stored", len(got), len(stored))
	}
	if up := sd.UploadedBytes(); up < int64(len(stored)) {
		t.Fatalf("seeder uploaded %d bytes of %d", up, len(stored))
	}

	// The web seed answers range requests with the stored bytes.
	resp, body := p.do("", "GET", strings.TrimPrefix(v.WebseedURL, p.srv.URL), nil, map[string]string{"Range": "bytes=100-1099"})
	if resp.StatusCode != http.StatusPartialContent || !bytes.Equal(body, stored[100:1100]) ||
		resp.Header.Get("Content-Range") != fmt.Sprintf("bytes 100-1099/%d", len(stored)) {
		t.Fatalf("web seed range: %d %q", resp.StatusCode, resp.Header.Get("Content-Range"))
	}

	// Restart everything on the same data.
	if err := sd.Close(); err != nil {
		t.Fatal(err)
	}
	sd = startSeeder()
	t.Cleanup(func() { sd.Close() })
	restart(sd)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := p.svc.SeedAll(ctx); err != nil {
		t.Fatal(err)
	}
	if n := sd.DiskReadBytes(); n != 0 {
		t.Fatalf("restart read %d bytes of the file: it re-hashed", n)
	}
	if got := aria2Fetch(t, aria2, bare, mi.Info.Name); !bytes.Equal(got, stored) {
		t.Fatal("download after restart differs")
	}
}

// aria2Fetch downloads a torrent with aria2c (trackers only: no DHT, LPD,
// PEX) and returns the file.
func aria2Fetch(t *testing.T, aria2 string, torrentBytes []byte, name string) []byte {
	t.Helper()
	dir := t.TempDir()
	tf := filepath.Join(dir, "x.torrent")
	if err := os.WriteFile(tf, torrentBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, aria2, "--dir="+out, "--enable-dht=false", "--enable-dht6=false",
		"--bt-enable-lpd=false", "--enable-peer-exchange=false", "--seed-time=0", "--bt-stop-timeout=30",
		"--listen-port="+testenv.Aria2ListenPorts(), "--disable-ipv6=true", "--file-allocation=none",
		"--summary-interval=0", "--console-log-level=warn", "--bt-tracker-connect-timeout=5",
		"--bt-tracker-timeout=5", "--bt-tracker-interval=1", "--no-conf=true", tf)
	logs, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("aria2c: %v\n%s", err, logs)
	}
	f, err := os.Open(filepath.Join(out, name))
	if err != nil {
		t.Fatalf("%v\naria2c output:\n%s", err, logs)
	}
	defer f.Close()
	got, err := io.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	return got
}
