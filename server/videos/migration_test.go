package videos

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	bolt "go.etcd.io/bbolt"

	"github.com/swarmtube/swarmtube/server/store"
)

// TestFoldingMigration opens a store written by the previous binary (schema
// 1, whose index folded with NFD only: testdata/issue-14-schema1.db holds a
// friend's video named "Élan Straße Øresund Łódź ﬁlm", described "Ærø",
// and one named "Plain words") and checks that the upgrade rebuilds the
// index: the letters without decomposition are found, nothing stale is
// left, and the rebuild happens once.
func TestFoldingMigration(t *testing.T) {
	old, err := os.ReadFile("testdata/issue-14-schema1.db")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "pod.db")
	if err := os.WriteFile(path, old, 0o600); err != nil {
		t.Fatal(err)
	}
	open := func() (*store.Store, *Service) {
		st, err := store.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		svc, err := New(Config{PodURL: "http://pod.test:9001", DataDir: dir, MaxUploadBytes: 1 << 20}, st, nil, slog.New(slog.DiscardHandler), prometheus.NewRegistry())
		if err != nil {
			st.Close()
			t.Fatal(err)
		}
		return st, svc
	}
	st, svc := open()
	for _, q := range []string{"elan", "strasse", "oresund", "lodz", "film", "aero", "Straße", "ŁÓDŹ", "ﬁ"} {
		l, err := svc.Search(q, 0, 10)
		if err != nil || l.Total != 1 || l.Data[0].Name != "Élan Straße Øresund Łódź ﬁlm" {
			t.Errorf("search %q after the upgrade: %d %s (%v)", q, l.Total, names(l), err)
		}
	}
	if l, _ := svc.Search("plain", 0, 10); l.Total != 1 {
		t.Errorf("plain: %d", l.Total)
	}
	var docs []uint32
	if err := st.View(func(tx *bolt.Tx) error {
		if store.NeedsRebuild(tx, store.IndexSearch) {
			t.Error("the rebuild mark is still set")
		}
		return tx.Bucket([]byte(bucketSearch)).ForEach(func(k, _ []byte) error {
			w := string(k[:bytes.IndexByte(k, 0)])
			for _, stale := range []string{"straße", "øresund", "łodz", "ﬁlm", "ærø"} {
				if w == stale {
					t.Errorf("stale entry %q left in the index", w)
				}
			}
			return nil
		})
	}); err != nil {
		t.Fatal(err)
	}
	for _, v := range mustList(t, svc) {
		docs = append(docs, v)
	}
	st.Close()

	// A second start finds nothing to do and the same documents.
	st, svc = open()
	defer st.Close()
	if l, _ := svc.Search("strasse", 0, 10); l.Total != 1 {
		t.Errorf("after restart: %d", l.Total)
	}
	if again := mustList(t, svc); len(again) != len(docs) {
		t.Errorf("documents %v, then %v", docs, again)
	}
}

func mustList(t *testing.T, svc *Service) []uint32 {
	t.Helper()
	var out []uint32
	if err := svc.st.View(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte(bucketVideos)).ForEach(func(k, _ []byte) error {
			rec, err := getTx(tx, string(k))
			if err != nil {
				return err
			}
			out = append(out, rec.Doc)
			return nil
		})
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestSearchFoldsLettersWithoutDecomposition is issue 14 bug B on a fresh
// store, through the HTTP API.
func TestSearchFoldsLettersWithoutDecomposition(t *testing.T) {
	p := newPod(t)
	if err := p.putRemote(friend, remoteVideo("Élan Straße Øresund Łódź ﬁlm", "Ærø", time.Now())); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{"elan", "strasse", "oresund", "lodz", "film", "aero", "ÆRØ", "ｆｉｌｍ"} {
		if s, l := p.search(q, ""); s != 200 || l.Total != 1 {
			t.Errorf("search %q: %d, %d found", q, s, l.Total)
		}
	}
}
