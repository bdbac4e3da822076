package seeder

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/swarmtube/swarmtube/shared/torrentfile"
)

// TestFetch downloads a file as a mirror does, from a seeder found
// through the tracker and from a web seed, and checks it byte for byte;
// the fetched file is then seeded without being read again.
func TestFetch(t *testing.T) {
	cases := []struct {
		name string
		peer bool // the origin's seeder is reachable through the tracker
		// corrupt makes the web seed send bad bytes in its second piece:
		// the piece must fail its hash and come from elsewhere.
		corrupt bool
	}{
		{"from the seeder", true, false},
		{"from the web seed", false, false},
		{"corrupt web seed, good seeder", true, true},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path, data := randomFile(t, 3<<20+12345, uint64(40+i))
			name := torrentfile.FileName("fetch", "mp4")
			origin := newSeeder(t, t.TempDir(), nil)
			var port atomic.Int64
			if tc.peer {
				port.Store(int64(origin.Port()))
			}
			tr := newTestTracker(t, func() int { return int(port.Load()) })
			tb, ih := makeTorrent(t, data, name, tr.url)
			if err := origin.Seed(context.Background(), tb, path); err != nil {
				t.Fatal(err)
			}
			var served atomic.Int64
			ws := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				body := data
				if tc.corrupt {
					body = bytes.Clone(data)
					body[1<<20+5] ^= 0xff // piece length is 256 KiB here: piece 4
				}
				served.Add(1)
				http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(body))
			}))
			defer ws.Close()

			mirror := newSeeder(t, t.TempDir(), nil)
			part := filepath.Join(t.TempDir(), "m", "x.part")
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			if err := mirror.Fetch(ctx, tb, part, []string{ws.URL + "/" + name}); err != nil {
				t.Fatal(err)
			}
			got, err := os.ReadFile(part)
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("fetched file differs (%v)", err)
			}
			if !tc.peer && served.Load() == 0 {
				t.Fatal("the web seed was never asked")
			}
			if _, ok := mirror.FetchProgress(ih); ok {
				t.Fatal("the fetched torrent is still in the client")
			}
			final := filepath.Join(filepath.Dir(part), "x.mp4")
			if err := os.Rename(part, final); err != nil {
				t.Fatal(err)
			}
			before := mirror.DiskReadBytes()
			if err := mirror.Seed(ctx, tb, final); err != nil {
				t.Fatal(err)
			}
			if r := mirror.DiskReadBytes() - before; r != 0 {
				t.Fatalf("seeding the fetched file read %d bytes: completion was not kept", r)
			}
		})
	}
}

// TestFetchResumes: a fetch cancelled part way keeps its verified pieces,
// and the next one completes the file.
func TestFetchResumes(t *testing.T) {
	_, data := randomFile(t, 4<<20, 50)
	name := torrentfile.FileName("resume", "mp4")
	tr := newTestTracker(t, func() int { return 0 })
	tb, _ := makeTorrent(t, data, name, tr.url)
	var slow atomic.Bool
	slow.Store(true)
	ws := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if slow.Load() {
			time.Sleep(300 * time.Millisecond) // timed: behaviour: a slow web seed, so the fetch is under way when cancelled
		}
		http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(data))
	}))
	defer ws.Close()
	dir := t.TempDir()
	part := filepath.Join(t.TempDir(), "x.part")
	s1, err := New(Config{DataDir: dir, ListenAddr: "127.0.0.1"}, testLogger(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	err = s1.Fetch(ctx, tb, part, []string{ws.URL + "/x"})
	cancel()
	if err == nil {
		t.Skip("the whole file arrived before the cancel; nothing to resume")
	}
	s1.Close()
	slow.Store(false)
	s2 := newSeeder(t, dir, nil)
	ctx, cancel = context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := s2.Fetch(ctx, tb, part, []string{ws.URL + "/x"}); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(part); !bytes.Equal(got, data) {
		t.Fatal("resumed file differs")
	}
}
