package seeder

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/anacrolix/torrent/bencode"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/swarmtube/swarmtube/internal/testenv"
	"github.com/swarmtube/swarmtube/shared/torrentfile"
)

// testLogger logs to t until t's cleanup ends. anacrolix goroutines may
// still log after Close returns (e.g. WebRTC connections being torn down),
// and testing panics on t.Log after a test has completed.
func testLogger(t *testing.T) *slog.Logger {
	w := &testWriter{t: t}
	t.Cleanup(func() {
		w.mu.Lock()
		w.done = true
		w.mu.Unlock()
	})
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

type testWriter struct {
	mu   sync.Mutex // guards done and serialises t.Log
	t    *testing.T
	done bool
}

func (w *testWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(strings.TrimSuffix(string(b), "\n"))
	}
	return len(b), nil
}

// randomFile writes n deterministic pseudo-random bytes to a file whose name
// differs from the torrent's info.name, as the pod stores videos.
func randomFile(t *testing.T, n int, seed uint64) (string, []byte) {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, 1))
	data := make([]byte, n)
	for i := range data {
		data[i] = byte(r.Uint32())
	}
	path := filepath.Join(t.TempDir(), fmt.Sprintf("stored-%d.bin", seed))
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path, data
}

// ffmpegClip makes a real 3 s H.264/AAC MP4.
func ffmpegClip(t *testing.T) (string, []byte) {
	t.Helper()
	return testenv.MakeClip(t, testenv.Clip{Seconds: 3, Width: 320, Height: 240, Rate: 25, Audio: true})
}

// makeTorrent builds the torrent as the pod does, with the given trackers
// and no web seed (so a download can only come from the seeder).
func makeTorrent(t *testing.T, data []byte, name string, trackers ...string) ([]byte, [20]byte) {
	t.Helper()
	info, err := torrentfile.HashReader(context.Background(), bytes.NewReader(data), name, int64(len(data)), torrentfile.PieceLength(int64(len(data))), nil)
	if err != nil {
		t.Fatal(err)
	}
	m := torrentfile.Metainfo{Info: info, CreatedBy: "swarmtube test"}
	for _, tr := range trackers {
		m.AnnounceList = append(m.AnnounceList, []string{tr})
	}
	b, err := m.Bencode()
	if err != nil {
		t.Fatal(err)
	}
	ih, _ := info.InfoHash()
	return b, ih
}

// testTracker is a minimal BEP 3/23 HTTP tracker that always answers with
// the seeder's address, so aria2 finds the seeder however announces race.
// It counts announces per client ("peer_id" prefix) for assertions.
type testTracker struct {
	url       string
	announces atomic.Int64
}

func newTestTracker(t *testing.T, seederPort func() int) *testTracker {
	tt := &testTracker{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tt.announces.Add(1)
		peer := make([]byte, 6)
		copy(peer, net.IPv4(127, 0, 0, 1).To4())
		binary.BigEndian.PutUint16(peer[4:], uint16(seederPort()))
		b, err := bencode.Marshal(map[string]any{"interval": 60, "peers": string(peer)})
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Write(b)
	}))
	t.Cleanup(srv.Close)
	tt.url = srv.URL + "/announce"
	return tt
}

// aria2Download downloads torrentBytes with aria2c into a fresh directory
// and returns the downloaded file's bytes.
func aria2Download(t *testing.T, torrentBytes []byte, name string) []byte {
	t.Helper()
	aria2 := testenv.LookPath(t, "aria2c")
	dir := t.TempDir()
	tf := filepath.Join(dir, "x.torrent")
	if err := os.WriteFile(tf, torrentBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, aria2, aria2Args(out)...)
	cmd.Args = append(cmd.Args, tf)
	logs, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("aria2c: %v\n%s", err, logs)
	}
	got, err := os.ReadFile(filepath.Join(out, name))
	if err != nil {
		t.Fatalf("%v\naria2c output:\n%s", err, logs)
	}
	return got
}

func newSeeder(t *testing.T, dir string, reg prometheus.Registerer) *Seeder {
	t.Helper()
	s, err := New(Config{DataDir: dir, ListenAddr: "127.0.0.1", Port: 0}, testLogger(t), reg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestSeedToAria2(t *testing.T) {
	testenv.LookPath(t, "aria2c")
	for _, tc := range []struct {
		name string
		file func(t *testing.T) (string, []byte)
	}{
		{"ffmpeg clip", ffmpegClip},
		{"random 3 MiB", func(t *testing.T) (string, []byte) { return randomFile(t, 3<<20+12345, 1) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reg := prometheus.NewRegistry()
			s := newSeeder(t, t.TempDir(), reg)
			tr := newTestTracker(t, s.Port)
			path, data := tc.file(t)
			name := torrentfile.FileName("My "+tc.name, "mp4")
			tb, ih := makeTorrent(t, data, name, tr.url)

			if err := s.Seed(context.Background(), tb, path); err != nil {
				t.Fatal(err)
			}
			if got := s.DiskReadBytes(); got != int64(len(data)) {
				t.Errorf("first Seed read %d bytes, want the whole file (%d) for verification", got, len(data))
			}
			if err := s.Seed(context.Background(), tb, path); err != nil { // idempotent
				t.Fatalf("second Seed: %v", err)
			}

			got := aria2Download(t, tb, name)
			if !bytes.Equal(got, data) {
				t.Fatalf("aria2 downloaded %d bytes that differ from the %d seeded", len(got), len(data))
			}
			if up := s.UploadedBytes(); up < int64(len(data)) {
				t.Errorf("UploadedBytes = %d, want >= %d", up, len(data))
			}
			ts := s.Torrents()
			if len(ts) != 1 || ts[0].InfoHash != ih || ts[0].UploadedBytes < int64(len(data)) || ts[0].Name != name {
				t.Errorf("Torrents() = %+v", ts)
			}
			for _, m := range []string{"swarmtube_seeder_uploaded_bytes_total", "swarmtube_seeder_torrent_uploaded_bytes_total"} {
				if v := gatherSum(t, reg, m); v < float64(len(data)) {
					t.Errorf("metric %s = %v, want >= %d", m, v, len(data))
				}
			}
			if v := gatherSum(t, reg, "swarmtube_seeder_torrents"); v != 1 {
				t.Errorf("metric torrents = %v", v)
			}
		})
	}
}

// gatherSum returns the sum of the values of metric family name in reg.
func gatherSum(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() == name {
			for _, m := range mf.GetMetric() {
				sum += m.GetCounter().GetValue() + m.GetGauge().GetValue()
			}
		}
	}
	return sum
}

// TestRestartWithoutRehash seeds, downloads, restarts the seeder on the same
// data dir and shows the second Seed reads nothing from disk (no hashing)
// yet serves a full download.
func TestRestartWithoutRehash(t *testing.T) {
	testenv.LookPath(t, "aria2c")
	dataDir := t.TempDir()
	path, data := randomFile(t, 2<<20+777, 2)
	name := torrentfile.FileName("restart", "mp4")

	var port atomic.Int64
	tr := newTestTracker(t, func() int { return int(port.Load()) })
	tb, _ := makeTorrent(t, data, name, tr.url)

	s1, err := New(Config{DataDir: dataDir, ListenAddr: "127.0.0.1"}, testLogger(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	port.Store(int64(s1.Port()))
	if err := s1.Seed(context.Background(), tb, path); err != nil {
		t.Fatal(err)
	}
	if s1.DiskReadBytes() != int64(len(data)) {
		t.Fatalf("first start read %d bytes, want %d (one verification)", s1.DiskReadBytes(), len(data))
	}
	if err := s1.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s1.Close(); err != nil { // idempotent
		t.Fatal(err)
	}

	s2 := newSeeder(t, dataDir, nil)
	port.Store(int64(s2.Port()))
	if err := s2.Seed(context.Background(), tb, path); err != nil {
		t.Fatal(err)
	}
	if got := s2.DiskReadBytes(); got != 0 {
		t.Fatalf("Seed after restart read %d bytes: it re-hashed", got)
	}
	got := aria2Download(t, tb, name)
	if !bytes.Equal(got, data) {
		t.Fatal("download after restart differs")
	}
	// Everything read since the restart was read to serve the download.
	if r, up := s2.DiskReadBytes(), s2.UploadedBytes(); r < int64(len(data)) || up < int64(len(data)) {
		t.Errorf("after download: read %d, uploaded %d, want >= %d", r, up, len(data))
	}
}

func TestSeedErrors(t *testing.T) {
	s := newSeeder(t, t.TempDir(), nil)
	path, data := randomFile(t, 1<<20+5, 3)
	tb, ih := makeTorrent(t, data, "a.mp4")

	corrupt := filepath.Join(t.TempDir(), "corrupt")
	bad := bytes.Clone(data)
	bad[300<<10] ^= 1 // in the second of five pieces
	os.WriteFile(corrupt, bad, 0o600)
	short := filepath.Join(t.TempDir(), "short")
	os.WriteFile(short, data[:len(data)-1], 0o600)

	for _, tc := range []struct {
		name    string
		torrent []byte
		path    string
		want    error
	}{
		{"corrupt", tb, corrupt, ErrCorrupt},
		{"short", tb, short, ErrFileMismatch},
		{"missing", tb, filepath.Join(t.TempDir(), "nope"), ErrFileMismatch},
		{"not a torrent", []byte("garbage"), path, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := s.Seed(context.Background(), tc.torrent, tc.path)
			if err == nil || (tc.want != nil && !errors.Is(err, tc.want)) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if len(s.Torrents()) != 0 {
				t.Fatalf("failed Seed left a torrent: %+v", s.Torrents())
			}
		})
	}

	// The corrupt attempt did not poison the good file.
	if err := s.Seed(context.Background(), tb, path); err != nil {
		t.Fatal(err)
	}
	if err := s.Seed(context.Background(), tb, corrupt); !errors.Is(err, ErrConflict) {
		t.Fatalf("Seed from another path: %v, want ErrConflict", err)
	}

	// Remove forgets completion: seeding again verifies again.
	before := s.DiskReadBytes()
	if err := s.Remove(ih); err != nil {
		t.Fatal(err)
	}
	if err := s.Remove(ih); err != nil { // idempotent
		t.Fatal(err)
	}
	if len(s.Torrents()) != 0 {
		t.Fatal("Remove left the torrent")
	}
	if err := s.Seed(context.Background(), tb, path); err != nil {
		t.Fatal(err)
	}
	if s.DiskReadBytes()-before != int64(len(data)) {
		t.Errorf("Seed after Remove read %d bytes, want %d", s.DiskReadBytes()-before, len(data))
	}

	// Cancelled context: nothing left behind.
	path2, data2 := randomFile(t, 1<<20, 4)
	tb2, _ := makeTorrent(t, data2, "b.mp4")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Seed(ctx, tb2, path2); err != nil && !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled Seed: %v", err)
	}

	s.Close()
	if err := s.Seed(context.Background(), tb, path); !errors.Is(err, ErrClosed) {
		t.Fatalf("Seed after Close: %v", err)
	}
}

func TestSeedVerifiedReadsNothing(t *testing.T) {
	s := newSeeder(t, t.TempDir(), nil)
	path, data := randomFile(t, 1<<20+5, 5)
	tb, _ := makeTorrent(t, data, "v.mp4")
	if err := s.SeedVerified(context.Background(), tb, path); err != nil {
		t.Fatal(err)
	}
	if s.DiskReadBytes() != 0 {
		t.Fatalf("SeedVerified read %d bytes", s.DiskReadBytes())
	}
	if len(s.Torrents()) != 1 {
		t.Fatal("not seeding")
	}
}

func TestNewErrors(t *testing.T) {
	for _, cfg := range []Config{
		{},
		{DataDir: t.TempDir(), ListenAddr: "localhost"},
	} {
		if s, err := New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), nil); err == nil {
			s.Close()
			t.Errorf("New(%+v) succeeded", cfg)
		}
	}
	// The completion store is locked by a running seeder.
	dir := t.TempDir()
	newSeeder(t, dir, nil)
	if s, err := New(Config{DataDir: dir, ListenAddr: "127.0.0.1"}, slog.New(slog.NewTextHandler(io.Discard, nil)), nil); err == nil {
		s.Close()
		t.Error("two seeders opened the same data dir")
	}
}

// aria2Args are the aria2c flags for a tracker-only, single-shot download
// to dir: no DHT, LPD, PEX or web seeds, exit as soon as the file is done.
func aria2Args(dir string) []string {
	return []string{
		"--dir=" + dir,
		"--enable-dht=false", "--enable-dht6=false",
		"--bt-enable-lpd=false", "--enable-peer-exchange=false",
		"--seed-time=0", "--bt-stop-timeout=30",
		"--listen-port=" + testenv.Aria2ListenPorts(),
		"--disable-ipv6=true",
		"--file-allocation=none",
		"--check-certificate=false",
		"--summary-interval=0", "--console-log-level=warn",
		"--bt-tracker-connect-timeout=5", "--bt-tracker-timeout=5",
		"--bt-tracker-interval=1",
		"--no-conf=true",
	}
}
