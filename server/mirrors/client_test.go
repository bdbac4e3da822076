package mirrors

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/swarmtube/swarmtube/server/federation"
)

// TestGuardedFetches: .torrent fetches and range checks go through the
// guarded client the pod gives (federation.NewClient): URLs come from
// friends, so a private address is refused unless the pod allows them, a
// redirect is not followed, and a .torrent over maxTorrentBytes is
// refused rather than cut.
func TestGuardedFetches(t *testing.T) {
	ctx := context.Background()
	var hits int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits++
		switch r.URL.Path {
		case "/big.torrent":
			_, _ = w.Write(bytes.Repeat([]byte("x"), maxTorrentBytes+1))
		case "/moved.torrent":
			http.Redirect(w, r, "/ok.torrent", http.StatusFound)
		default:
			_, _ = w.Write([]byte("d4:infod6:lengthi1eee"))
		}
	}))
	defer srv.Close()

	f := newFixture(t, StrategyManual, 0)
	f.m.cfg.HTTPClient = federation.NewClient(false) // as a pod without --federation-allow-private
	if _, err := f.m.get(ctx, srv.URL+"/ok.torrent"); err == nil || hits != 0 {
		t.Fatalf("fetched from loopback through the guarded client (err %v, %d requests served)", err, hits)
	}

	f.m.cfg.HTTPClient = federation.NewClient(true)
	if _, err := f.m.get(ctx, srv.URL+"/ok.torrent"); err != nil {
		t.Fatalf("allowed private: %v", err)
	}
	if _, err := f.m.get(ctx, srv.URL+"/moved.torrent"); err == nil || !strings.Contains(err.Error(), "302") {
		t.Fatalf("a redirect: %v, want it refused, not followed", err)
	}
	if _, err := f.m.get(ctx, srv.URL+"/big.torrent"); err == nil || !strings.Contains(err.Error(), "more than") {
		t.Fatalf("a .torrent over the limit: %v, want it refused", err)
	}
	if hits != 3 {
		t.Fatalf("%d requests served, want 3 (no redirect followed)", hits)
	}
	if _, err := New(Config{Dir: t.TempDir()}, f.m.st, f.cat, f.out, f.sd, f.m.log, nil); err == nil {
		t.Fatal("New without the guarded client: no error")
	}
}
