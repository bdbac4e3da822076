package pod

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/swarmtube/swarmtube/internal/testenv"
	"github.com/swarmtube/swarmtube/server/api"
	"github.com/swarmtube/swarmtube/shared/torrentfile"
)

// TestLadderDownloadsWithAria2 (issue 16's acceptance): a web-playable
// 720p upload keeps the info hash of its own bytes, gets 480p, 360p and
// 240p files, and aria2c downloads each of them byte for byte from the
// pod's seeder, found through the pod's HTTP tracker alone (its own swarm
// per resolution; no DHT, LPD, PEX or web seed).
func TestLadderDownloadsWithAria2(t *testing.T) {
	aria2 := testenv.LookPath(t, "aria2c")
	testenv.LookPath(t, "ffmpeg")
	_, clip := testenv.MakeClip(t, testenv.Clip{Seconds: 2, Width: 1280, Height: 720, Rate: 10, Audio: true, Faststart: true})
	dir := t.TempDir()
	p, stop := runPod(t, "--listen", freeAddr(t), "--data", dir, "--turn-listen", "127.0.0.1:0")
	defer stop()
	waitUp(t, p.URL())
	tok := loginHTTP(t, p.URL(), "admin", "admin-password")
	v := uploadVideo(t, nil, p.URL(), tok, "ladder", clip)

	size := int64(len(clip))
	own, err := torrentfile.HashReader(t.Context(), bytes.NewReader(clip), torrentfile.FileName("ladder", "mp4"), size, torrentfile.PieceLength(size), nil)
	if err != nil {
		t.Fatal(err)
	}
	if ih, _ := own.InfoHash(); v.InfoHash != hex.EncodeToString(ih[:]) || v.State != api.StatePublished {
		t.Fatalf("published %s (%s), want the upload's own info hash %x at once", v.InfoHash, v.State, ih)
	}
	testenv.Eventually(t, 4*time.Minute, "480p, 360p and 240p", func() bool {
		v = getVideo(t, p.URL(), v.ID)
		return len(v.Files) == 4
	})
	for i, want := range []int{720, 480, 360, 240} {
		if f := v.Files[i]; f.Resolution != want {
			t.Fatalf("files[%d] is %dp, want %dp: %+v", i, f.Resolution, want, v.Files)
		}
	}
	if v.Files[0].InfoHash != v.InfoHash {
		t.Fatalf("the best file %s is not the top-level %s", v.Files[0].InfoHash, v.InfoHash)
	}
	for _, f := range v.Files {
		resp, err := http.Get(f.TorrentURL)
		if err != nil {
			t.Fatal(err)
		}
		tb, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		mi, ih, err := torrentfile.Parse(tb)
		if err != nil || hex.EncodeToString(ih[:]) != f.InfoHash {
			t.Fatalf("%dp torrent: %x %v", f.Resolution, ih, err)
		}
		stored, err := os.ReadFile(filepath.Join(dir, "videos", filepath.Base(f.WebseedURL)))
		if err != nil {
			t.Fatal(err)
		}
		got, err := aria2FromSeeder(t, aria2, p.URL(), mi.Info, "60")
		if err != nil {
			t.Fatalf("aria2c %dp: %v", f.Resolution, err)
		}
		if !bytes.Equal(got, stored) || int64(len(got)) != f.Size {
			t.Fatalf("aria2c %dp got %d bytes (%v), want the %d stored", f.Resolution, len(got), err, len(stored))
		}
	}
}

// aria2FromSeeder downloads info with aria2c through the pod's HTTP
// tracker alone (no url-list, DHT, LPD or PEX): every byte from the pod's
// seeder. stopTimeout is aria2c's --bt-stop-timeout in seconds.
func aria2FromSeeder(t *testing.T, aria2, podURL string, info torrentfile.Info, stopTimeout string) ([]byte, error) {
	t.Helper()
	bare, err := torrentfile.Metainfo{Info: info, AnnounceList: [][]string{{podURL + "/tracker/announce"}}}.Bencode()
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	tf := filepath.Join(out, "x.torrent")
	if err := os.WriteFile(tf, bare, 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, aria2, "--dir="+out, "--enable-dht=false", "--enable-dht6=false",
		"--bt-enable-lpd=false", "--enable-peer-exchange=false", "--seed-time=0", "--bt-stop-timeout="+stopTimeout,
		"--listen-port="+testenv.Aria2ListenPorts(), "--disable-ipv6=true", "--file-allocation=none",
		"--summary-interval=0", "--console-log-level=warn", "--bt-tracker-connect-timeout=20",
		"--bt-tracker-timeout=20", "--no-conf=true", tf)
	if logs, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("%v\n%s", err, logs)
	}
	return os.ReadFile(filepath.Join(out, info.Name))
}

// getVideo reads a video as a visitor.
func getVideo(t *testing.T, base, id string) api.Video {
	t.Helper()
	resp, err := http.Get(base + "/api/v1/videos/" + id)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var v api.Video
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET video %s: %d %v", id, resp.StatusCode, err)
	}
	return v
}
