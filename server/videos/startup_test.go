package videos

import (
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/swarmtube/swarmtube/server/store"
)

// startState is what a start builds in memory and hands the seeder.
type startState struct {
	known  map[[20]byte]int
	files  map[string]int
	used   map[string]int64
	recent map[string]int
	seeded map[[20]byte]string
}

// fromRecords computes startState by decoding every record, as starts did
// before videos_local (issue 20).
func fromRecords(t *testing.T, p *pod) startState {
	t.Helper()
	want := startState{known: map[[20]byte]int{}, files: map[string]int{}, used: map[string]int64{}, recent: map[string]int{}, seeded: map[[20]byte]string{}}
	if err := p.st.View(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte(bucketVideos)).ForEach(func(k, _ []byte) error {
			rec, err := getTx(tx, string(k))
			if err != nil {
				return err
			}
			ih, err := rec.infoHash()
			if err != nil {
				return err
			}
			want.known[ih]++
			if rec.Origin == "" {
				want.files[rec.File]++
				want.used[rec.Video.Owner] += rec.Video.Size
				want.recent[rec.Video.Owner]++
				want.seeded[ih] = filepath.Join(p.dir, "videos", rec.File)
			}
			return nil
		})
	}); err != nil {
		t.Fatal(err)
	}
	return want
}

// started reads what p's service built at its start and seeded.
func started(p *pod, sd *fakeSeeder) startState {
	s := p.svc
	got := startState{known: maps.Clone(s.known), files: maps.Clone(s.files), used: maps.Clone(s.quota.used), recent: map[string]int{}, seeded: maps.Clone(sd.seeded)}
	for owner, l := range s.quota.recent {
		got.recent[owner] = len(l)
	}
	return got
}

func (a startState) equal(b startState) bool {
	return maps.Equal(a.known, b.known) && maps.Equal(a.files, b.files) && maps.Equal(a.used, b.used) &&
		maps.Equal(a.recent, b.recent) && maps.Equal(a.seeded, b.seeded)
}

// TestStartFromIndexes checks that a start, which reads videos_by_hash and
// videos_local instead of decoding records, builds the same known set, web
// seed files, quota use and seeder registrations as the records say, after
// uploads, an update, a removal and a friend's video; and that a store
// written before videos_local and videos_owner_n existed gets them built
// at its first start.
func TestStartFromIndexes(t *testing.T) {
	fast, slow := clips(t)
	p := newPod(t)
	var ids []string
	for i, up := range []struct {
		user string
		clip []byte
	}{{"alice", fast}, {"alice", slow}, {"bob", fast}, {"bob", slow}} {
		code, v, e := p.upload(up.user, "clip "+strings.Repeat("x", i+1), "", up.clip)
		if code != 201 {
			t.Fatalf("upload %d: %d %s", i, code, e)
		}
		ids = append(ids, v.ID)
	}
	if resp, b := p.do("alice", "PATCH", "/api/v1/videos/"+ids[0], strings.NewReader(`{"name":"renamed"}`), map[string]string{"Content-Type": "application/json"}); resp.StatusCode != 200 {
		t.Fatalf("update: %d %s", resp.StatusCode, b)
	}
	if resp, b := p.do("bob", "DELETE", "/api/v1/videos/"+ids[3], nil, nil); resp.StatusCode != 204 {
		t.Fatalf("remove: %d %s", resp.StatusCode, b)
	}
	if err := p.putRemote(friend, remoteVideo("remote", "", time.Now())); err != nil {
		t.Fatal(err)
	}
	want := fromRecords(t, p)
	if len(want.known) != 4 || len(want.seeded) != 3 {
		t.Fatalf("records: %d videos, %d local", len(want.known), len(want.seeded))
	}

	restart := func() startState {
		t.Helper()
		p.close()
		sd := &fakeSeeder{}
		p.open(sd)
		if err := p.svc.SeedAll(t.Context()); err != nil {
			t.Fatal(err)
		}
		return started(p, sd)
	}
	if got := restart(); !got.equal(want) {
		t.Fatalf("start from indexes:\n got  %+v\n want %+v", got, want)
	}

	// A store written before videos_local and videos_meta existed.
	if err := p.st.Update(func(tx *bolt.Tx) error {
		for _, b := range []string{bucketLocal, bucketMeta, bucketOwnerN} {
			if err := tx.DeleteBucket([]byte(b)); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if got := restart(); !got.equal(want) {
		t.Fatalf("start of an older store:\n got  %+v\n want %+v", got, want)
	}
	var n int
	var url string
	if err := p.st.View(func(tx *bolt.Tx) error {
		n = tx.Bucket([]byte(bucketLocal)).Stats().KeyN
		url = string(tx.Bucket([]byte(bucketMeta)).Get([]byte(keyPodURL)))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if n != 3 || url != p.svc.cfg.PodURL {
		t.Fatalf("after the upgrade: %d local entries, pod URL %q", n, url)
	}

	for owner, want := range map[string]int{"alice": 2, "bob": 1, "carol": 0} {
		if l, err := p.svc.ListByOwner(owner, 0, 10); err != nil || l.Total != want || len(l.Data) != want {
			t.Errorf("%s's videos after the upgrade: total %d, %d listed (%v); want %d", owner, l.Total, len(l.Data), err, want)
		}
	}

	// Federation's catalogue pages walk the same entries: the local
	// videos in id order, one page after another, no friend's.
	var paged []string
	for after := ""; ; {
		vs, err := p.svc.LocalVideosAfter(after, 2)
		if err != nil {
			t.Fatal(err)
		}
		if len(vs) == 0 {
			break
		}
		for _, v := range vs {
			paged = append(paged, v.ID)
		}
		after = vs[len(vs)-1].ID
	}
	local := slices.Sorted(slices.Values([]string{ids[0], ids[1], ids[2]}))
	if !slices.Equal(paged, local) {
		t.Fatalf("catalogue pages: %v, want %v", paged, local)
	}
}

// TestPageKeys compares every page pageKeys returns, walked from either
// end, with the same page cut from the sorted keys, with and without a
// prefix (other prefixes' keys on both sides).
func TestPageKeys(t *testing.T) {
	st, err := store.Open(filepath.Join(t.TempDir(), "pod.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var all, bob []string
	if err := st.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucket([]byte("k"))
		if err != nil {
			return err
		}
		for _, owner := range []string{"alice", "bob", "carl"} {
			for i := range 7 {
				k := fmt.Sprintf("%s\x00%03d", owner, i)
				all = append(all, k)
				if owner == "bob" {
					bob = append(bob, k)
				}
				if err := b.Put([]byte(k), nil); err != nil {
					return err
				}
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	slices.Reverse(all)
	slices.Reverse(bob)
	for _, tc := range []struct {
		prefix string
		want   []string
	}{{"", all}, {"bob\x00", bob}} {
		total := len(tc.want)
		for start := 0; start <= total+1; start++ {
			for count := 1; count <= total+1; count++ {
				var got []string
				st.View(func(tx *bolt.Tx) error {
					for _, k := range pageKeys(tx.Bucket([]byte("k")).Cursor(), []byte(tc.prefix), total, start, count) {
						got = append(got, string(k))
					}
					return nil
				})
				want := tc.want[min(start, total):min(start+count, total)]
				if !slices.Equal(got, want) && !(len(got) == 0 && len(want) == 0) {
					t.Fatalf("prefix %q, start %d, count %d: %q, want %q", tc.prefix, start, count, got, want)
				}
			}
		}
	}
}

// TestLookupsDoNotWaitForCleanup: the clean-up holds the service's lock
// while it reads the whole catalogue (seconds at 100,000 videos, at every
// start and hourly); the tracker's Known (every announce) and the web
// seed's ResolveWebseed must not wait for it.
func TestLookupsDoNotWaitForCleanup(t *testing.T) {
	fast, _ := clips(t)
	p := newPod(t)
	_, v, _ := p.upload("alice", "one", "", fast)
	ih, err := (&record{Video: v}).infoHash()
	if err != nil {
		t.Fatal(err)
	}
	p.svc.mu.Lock() // as cleanup does
	done := make(chan bool)
	go func() {
		_, served := p.svc.ResolveWebseed(filepath.Base(v.WebseedURL))
		done <- p.svc.Known(ih) && served
	}()
	select {
	case ok := <-done:
		p.svc.mu.Unlock()
		if !ok {
			t.Fatal("the video is not known or not served")
		}
	case <-time.After(10 * time.Second):
		p.svc.mu.Unlock()
		t.Fatal("Known and ResolveWebseed wait for the service's lock, which the clean-up holds while it reads the catalogue")
	}
}
