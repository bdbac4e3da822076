package clientlab

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/swarmtube/swarmtube/internal/netlab"
	"github.com/swarmtube/swarmtube/shared/torrentfile"
)

// rxBytes returns the bytes h's eth0 has received (`ip -s link`).
func rxBytes(h *netlab.Host) (int64, error) {
	out, err := exec.Command("ip", "-n", h.Namespace(), "-j", "-s", "link", "show", "dev", "eth0").Output()
	if err != nil {
		return 0, err
	}
	var links []struct {
		Stats64 struct {
			RX struct {
				Bytes int64 `json:"bytes"`
			} `json:"rx"`
		} `json:"stats64"`
	}
	if err := json.Unmarshal(out, &links); err != nil || len(links) != 1 {
		return 0, fmt.Errorf("ip -s link: %q: %v", out, err)
	}
	return links[0].Stats64.RX.Bytes, nil
}

func loadAvg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// TestClientRates measures each client's download rate from the pod's
// seeder and from an aria2c seeder of the same file, in one lab, one run
// after the other (never two at once). The rate is the file's size over
// the time from the client's first 64 KiB received to the client saying it
// is complete, so connection set-up and Transmission's 10 s wait before it
// says "interested" are left out. The aria2c seeder is found through a
// second pod acting as an open tracker, which knows nothing of the first
// pod's seeder. Run by scripts/bench/clients.sh; skipped unless
// SWARMTUBE_CLIENTLAB_BENCH_MB gives the file size in MB.
func TestClientRates(t *testing.T) {
	mb, _ := strconv.Atoi(os.Getenv("SWARMTUBE_CLIENTLAB_BENCH_MB"))
	if mb <= 0 {
		t.Skip("a benchmark: set SWARMTUBE_CLIENTLAB_BENCH_MB (scripts/bench/clients.sh)")
	}
	for _, c := range clients {
		c.check(t)
	}
	lab := netlab.New(t)
	p := startPod(t, lab.Host("pod"))                             // 203.0.113.1
	tracker := startPod(t, lab.Host("tracker"), "--open-tracker") // 203.0.113.2
	seed := lab.Host("aria2-seed")                                // 203.0.113.3
	home := lab.Router("home", netlab.EndpointIndependent)
	const mbits = 24 // 3 MB/s of video
	pub := publish(t, p, max(1, mb/3), mbits)

	// The same torrent (same info hash) announced to the other tracker.
	mi, _, err := torrentfile.Parse(pub.torrent)
	if err != nil {
		t.Fatal(err)
	}
	mi.AnnounceList = [][]string{{tracker.base + "/tracker/announce"}}
	baseline, err := mi.Bencode()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, pub.name), pub.data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "baseline.torrent"), baseline, 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	seeder := seed.Command(ctx, "aria2c", "--dir="+dir, "--listen-port=6881",
		"--enable-dht=false", "--enable-dht6=false", "--bt-enable-lpd=false", "--enable-peer-exchange=false",
		"--seed-ratio=0.0", "--bt-seed-unverified=true", "--bt-max-peers=0", "--bt-tracker-interval=5",
		"--summary-interval=0", "--console-log-level=warn", "--no-conf=true",
		filepath.Join(dir, "baseline.torrent"))
	seedLog, _ := os.Create(filepath.Join(dir, "aria2-seed.log"))
	seeder.Stdout, seeder.Stderr = seedLog, seedLog
	if err := seeder.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); seeder.Wait(); seedLog.Close() })

	t.Logf("file: %d bytes; load average at start: %s", len(pub.data), loadAvg())
	// aria2c speaks TCP only, so the comparison rows are TCP on both
	// sides; the uTP rows are from the pod alone.
	rows := []struct {
		c         client
		transport string
		aria2     bool
	}{
		{client{name: "transmission", get: transmissionWith(map[string]any{"utp-enabled": false})}, "TCP", true},
		{client{name: "transmission", get: transmission}, "uTP (its default)", false},
		{client{name: "libtorrent", get: libtorrentOver("tcp")}, "TCP", true},
		{client{name: "libtorrent", get: libtorrentOver("utp")}, "uTP", false},
		{clients[2], "TCP", true},
		{clients[3], "TCP", true},
	}
	table := []string{"| client | transport | from the pod's seeder | from an aria2c seeder |", "|---|---|---|---|"}
	for i, row := range rows {
		rates := [2]string{"", "n/a (aria2c has no uTP)"}
		for j, src := range []struct {
			name    string
			torrent []byte
		}{{"pod", pub.torrent}, {"aria2", baseline}} {
			if j == 1 && !row.aria2 {
				continue
			}
			h := home.Host(fmt.Sprintf("%s-%d-%s", row.c.name, i, src.name))
			d := t.TempDir()
			tf := filepath.Join(d, "video.torrent")
			if err := os.WriteFile(tf, src.torrent, 0o644); err != nil {
				t.Fatal(err)
			}
			rate, err := timeDownload(t, row.c, h, tf, d, pub)
			if err != nil {
				logTail(t, row.c.name+" log", filepath.Join(d, row.c.name+".log"))
				t.Errorf("%s over %s from the %s: %v", row.c.name, row.transport, src.name, err)
				rates[j] = "did not complete in " + clientLimit.String()
				continue
			}
			rates[j] = fmt.Sprintf("%.1f MB/s", rate/1e6)
			t.Logf("%s over %s from the %s seeder: %.1f MB/s", row.c.name, row.transport, src.name, rate/1e6)
		}
		table = append(table, fmt.Sprintf("| %s | %s | %s | %s |", row.c.name, row.transport, rates[0], rates[1]))
	}
	t.Logf("load average at the end: %s\n%s", loadAvg(), strings.Join(table, "\n"))
}

// timeDownload runs c on h and returns the file's size over the time from
// h's first 64 KiB received to completion, in bytes per second.
func timeDownload(t *testing.T, c client, h *netlab.Host, src, dir string, pub published) (float64, error) {
	rx0, err := rxBytes(h)
	if err != nil {
		return 0, err
	}
	var first atomic.Int64 // unix nanoseconds of the first 64 KiB
	stop := make(chan struct{})
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		for first.Load() == 0 {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			if rx, err := rxBytes(h); err == nil && rx-rx0 >= 64<<10 {
				first.Store(time.Now().UnixNano())
			}
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), clientLimit)
	defer cancel()
	path, err := c.get(ctx, h, src, dir, pub.name)
	end := time.Now()
	close(stop)
	<-watched
	if err != nil {
		return 0, err
	}
	got, err := os.ReadFile(path)
	if err != nil || string(got) != string(pub.data) {
		return 0, fmt.Errorf("downloaded file differs (%d bytes, %v)", len(got), err)
	}
	if first.Load() == 0 {
		return 0, fmt.Errorf("completed before 64 KiB arrived?")
	}
	return float64(len(pub.data)) / end.Sub(time.Unix(0, first.Load())).Seconds(), nil
}
