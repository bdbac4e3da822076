package seeder

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/anacrolix/torrent/metainfo"

	"github.com/swarmtube/swarmtube/internal/testenv"
	"github.com/swarmtube/swarmtube/shared/torrentfile"
)

// registeredTorrent seeds a file once (recording its completion), closes
// that seeder, and returns what a restarted pod registers.
func registeredTorrent(t *testing.T, dataDir string, seed uint64) (ih [20]byte, torrentPath, filePath string) {
	t.Helper()
	path, data := randomFile(t, 1<<20+123, seed)
	tb, ih := makeTorrent(t, data, torrentfile.FileName("cold", "mp4"))
	tp := filepath.Join(t.TempDir(), "x.torrent")
	if err := os.WriteFile(tp, tb, 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := New(Config{DataDir: dataDir, ListenAddr: "127.0.0.1"}, testLogger(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SeedVerified(context.Background(), tb, path); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return ih, tp, path
}

// A registered torrent costs nothing until woken; waking loads it without
// reading the file; it is unloaded once idle; the active set is bounded by
// MaxActive, least recently active first; Remove forgets a cold one.
func TestSeedOnDemand(t *testing.T) {
	dataDir := t.TempDir()
	var ihs [3][20]byte
	var tps, fps [3]string
	for i := range ihs {
		ihs[i], tps[i], fps[i] = registeredTorrent(t, dataDir, uint64(10+i))
	}
	s, err := New(Config{DataDir: dataDir, ListenAddr: "127.0.0.1", IdleTimeout: 300 * time.Millisecond, MaxActive: 2}, testLogger(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	for i := range ihs {
		if err := s.Register(ihs[i], tps[i], fps[i]); err != nil {
			t.Fatal(err)
		}
	}
	if l, r := s.Loaded(); l != 0 || r != 3 {
		t.Fatalf("after Register: %d loaded, %d registered; want 0, 3", l, r)
	}
	if err := s.Wake(context.Background(), [20]byte{1}); err != ErrNotRegistered {
		t.Fatalf("Wake(unknown) = %v, want ErrNotRegistered", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Wake(ctx, ihs[0]); err != nil {
		t.Fatal(err)
	}
	if len(s.Torrents()) != 1 {
		t.Fatalf("after Wake: %d torrents seeded, want 1", len(s.Torrents()))
	}
	if n := s.DiskReadBytes(); n != 0 {
		t.Fatalf("loading a cold torrent read %d bytes of its file", n)
	}

	// Idle: unloaded after IdleTimeout, registration kept.
	testenv.Eventually(t, 10*time.Second, "the idle torrent to unload", func() bool { l, _ := s.Loaded(); return l == 0 })
	if !s.Registered(ihs[0]) {
		t.Fatal("unloading forgot the registration")
	}

	// Bound: waking a third unloads the least recently active.
	s.idle.Store(int64(time.Hour)) // only the bound unloads from here on
	for _, i := range []int{0, 1, 0, 2} {
		if err := s.Wake(ctx, ihs[i]); err != nil {
			t.Fatal(err)
		}
	}
	got := map[[20]byte]bool{}
	for _, ts := range s.Torrents() {
		got[ts.InfoHash] = true
	}
	if len(got) != 2 || !got[ihs[0]] || !got[ihs[2]] {
		t.Fatalf("loaded after waking 0,1,0,2 with MaxActive 2: %v; want 0 and 2", got)
	}

	// TouchFile wakes by path.
	s.TouchFile(fps[1])
	if err := s.Wake(ctx, ihs[1]); err != nil {
		t.Fatal(err)
	}

	// Remove of a cold torrent forgets it and its completion.
	if err := s.Remove(ihs[0]); err != nil {
		t.Fatal(err)
	}
	if s.Registered(ihs[0]) {
		t.Fatal("Remove kept the registration")
	}
	if err := s.Wake(ctx, ihs[0]); err != ErrNotRegistered {
		t.Fatalf("Wake after Remove = %v", err)
	}
	if n := s.DiskReadBytes(); n != 0 {
		t.Fatalf("read %d bytes of files without serving anyone", n)
	}
}

// A wake at the moment the reaper unloads the same torrent (issue 20): the
// hooks stop the reaper at the two places where they interleave, so each
// case runs the same way every time.
//
//   - woken after reap found it idle: the wake returned the loaded entry,
//     so the torrent must stay loaded (it was unloaded under the waker);
//   - woken after it left the loaded set, before its drop: the new load
//     must get a live torrent (it was handed the one being dropped).
func TestWakeDuringUnload(t *testing.T) {
	for _, tc := range []string{"woken when found idle", "woken before the drop"} {
		t.Run(tc, func(t *testing.T) {
			dataDir := t.TempDir()
			ih, tp, fp := registeredTorrent(t, dataDir, 42)
			// An hour: the reaper's own ticker never runs in the test; reap
			// is called by hand.
			s, err := New(Config{DataDir: dataDir, ListenAddr: "127.0.0.1", IdleTimeout: time.Hour}, testLogger(t), nil)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			if err := s.Register(ih, tp, fp); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := s.Wake(ctx, ih); err != nil {
				t.Fatal(err)
			}
			s.idle.Store(1) // everything is idle to reap from now on

			woke := make(chan error, 1)
			switch tc {
			case "woken when found idle":
				s.hooks.reapDecided = func(metainfo.Hash) { woke <- s.Wake(ctx, ih) }
			case "woken before the drop":
				waiting := make(chan struct{})
				s.hooks.awaitingDrop = func(metainfo.Hash) { close(waiting) }
				s.hooks.retired = func(metainfo.Hash) {
					go func() { woke <- s.Wake(ctx, ih) }()
					// The new load either finishes (handed the torrent
					// about to be dropped) or waits for the drop, which
					// only comes after this hook returns.
					select {
					case err := <-woke:
						woke <- err
					case <-waiting:
					}
				}
			}
			s.reap()
			if err := <-woke; err != nil {
				t.Fatalf("Wake during the unload: %v", err)
			}
			s.mu.Lock()
			e := s.torrents[ih]
			s.mu.Unlock()
			if e == nil {
				t.Fatal("a torrent woken during its unload is not loaded")
			}
			select {
			case <-e.t.Closed():
				t.Fatal("a torrent woken during its unload was dropped under its waker")
			default:
			}
			if got, ok := s.cl.Torrent(ih); !ok || got != e.t {
				t.Fatalf("the client holds %v (%v), not the loaded entry's torrent", got, ok)
			}
			if len(s.Torrents()) != 1 {
				t.Fatalf("%d torrents seeded, want 1", len(s.Torrents()))
			}
		})
	}
}
