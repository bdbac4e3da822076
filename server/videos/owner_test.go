package videos

import (
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/swarmtube/swarmtube/server/api"
)

// TestListByOwner: ?owner= lists one user's local videos, newest first and
// paged, follows removals, ignores friends' videos of a same-named user,
// and is rebuilt for a store written before the index existed.
func TestListByOwner(t *testing.T) {
	p := newPod(t)
	clip, _ := clips(t)
	var alice []api.Video
	for _, n := range []string{"a1", "a2", "a3"} {
		s, v, e := p.upload("alice", n, "", clip)
		if s != 201 {
			t.Fatalf("upload %s: %d %s", n, s, e)
		}
		alice = append(alice, v)
	}
	if s, _, e := p.upload("bob", "b1", "", clip); s != 201 {
		t.Fatalf("upload b1: %d %s", s, e)
	}
	remote := remoteVideo("friend's alice", "", alice[0].CreatedAt)
	remote.Owner = "alice"
	if err := p.putRemote(friend, remote); err != nil {
		t.Fatal(err)
	}
	check := func(what, query string, total int, want ...string) {
		t.Helper()
		var l api.VideoList
		if s := p.getJSON("", "/api/v1/videos?"+query, &l); s != 200 {
			t.Fatalf("%s: status %d", what, s)
		}
		if l.Total != total || names(l) != names(api.VideoList{Data: namesOnly(want)}) {
			t.Fatalf("%s: total %d %s, want %d %v", what, l.Total, names(l), total, want)
		}
	}
	check("alice", "owner=alice", 3, "a3", "a2", "a1")
	check("alice, any case", "owner=Alice", 3, "a3", "a2", "a1")
	check("paged", "owner=alice&start=1&count=1", 3, "a2")
	check("bob", "owner=bob", 1, "b1")
	check("nobody", "owner=zed", 0)
	if resp, _ := p.do("alice", "DELETE", "/api/v1/videos/"+alice[1].ID, nil, nil); resp.StatusCode != 204 {
		t.Fatalf("delete: %d", resp.StatusCode)
	}
	check("after a removal", "owner=alice", 2, "a3", "a1")
	if resp, _ := p.do("", "GET", "/api/v1/videos?owner="+strings.Repeat("x", 65), nil, nil); resp.StatusCode != 400 {
		t.Errorf("a 65-byte owner: %d, want 400", resp.StatusCode)
	}

	// A store from before the index: the bucket is missing, New builds it.
	if err := p.st.Update(func(tx *bolt.Tx) error { return tx.DeleteBucket([]byte(bucketByOwner)) }); err != nil {
		t.Fatal(err)
	}
	p.close()
	p.open(p.seeder)
	check("after the rebuild", "owner=alice", 2, "a3", "a1")
}

func namesOnly(ns []string) []api.Video {
	out := make([]api.Video, len(ns))
	for i, n := range ns {
		out[i].Name = n
	}
	return out
}
