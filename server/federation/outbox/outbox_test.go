package outbox

import (
	"encoding/json"
	"errors"
	"path/filepath"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/swarmtube/swarmtube/server/api"
	"github.com/swarmtube/swarmtube/server/federation/fedproto"
	"github.com/swarmtube/swarmtube/server/store"
)

func open(t *testing.T) (*store.Store, *Outbox) {
	t.Helper()
	st, err := store.Open(filepath.Join(t.TempDir(), "pod.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	o, err := New(st, "http://self.example/")
	if err != nil {
		t.Fatal(err)
	}
	return st, o
}

// queued returns the events queued for u, in order.
func queued(t *testing.T, st *store.Store, u string) []fedproto.Event {
	t.Helper()
	var out []fedproto.Event
	if err := st.View(func(tx *bolt.Tx) error {
		q := QueueTx(tx, u)
		if q == nil {
			return nil
		}
		return q.ForEach(func(_, v []byte) error {
			var e fedproto.Event
			if err := json.Unmarshal(v, &e); err != nil {
				return err
			}
			out = append(out, e)
			return nil
		})
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestEnqueue: an event goes, with the next sequence, to every open
// queue and to no other; it exists only if the change's transaction
// commits; a closed queue gets nothing more and a reset one starts empty.
func TestEnqueue(t *testing.T) {
	st, o := open(t)
	const a, b = "http://a.example", "http://b.example"
	if err := st.Update(func(tx *bolt.Tx) error {
		if _, err := OpenTx(tx, a); err != nil {
			return err
		}
		return o.EnqueueTx(tx, fedproto.EventAdd, api.Video{ID: "one"})
	}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-o.Wake():
	default:
		t.Fatal("a commit that queued an event did not wake the worker")
	}
	boom := errors.New("the change failed")
	if err := st.Update(func(tx *bolt.Tx) error {
		if err := o.EnqueueTx(tx, fedproto.EventAdd, api.Video{ID: "rolled back"}); err != nil {
			return err
		}
		return boom
	}); !errors.Is(err, boom) {
		t.Fatal(err)
	}
	if err := st.Update(func(tx *bolt.Tx) error {
		if _, err := OpenTx(tx, b); err != nil {
			return err
		}
		if err := o.EnqueueTx(tx, fedproto.EventRemove, api.Video{ID: "one"}); err != nil {
			return err
		}
		return o.EnqueueMirrorTx(tx, fedproto.EventMirror, fedproto.MirrorRef{VideoPod: b, VideoID: "x"})
	}); err != nil {
		t.Fatal(err)
	}
	got := queued(t, st, a)
	if len(got) != 3 || got[0].Seq != 1 || got[0].Video.ID != "one" || got[0].Origin != "http://self.example" ||
		got[1].Seq != 2 || got[1].Type != fedproto.EventRemove || got[2].Seq != 3 || got[2].Mirror == nil {
		t.Fatalf("a's queue: %+v", got)
	}
	if got := queued(t, st, b); len(got) != 2 || got[0].Seq != 2 {
		t.Fatalf("b's queue (opened after the first event): %+v", got)
	}
	if err := st.Update(func(tx *bolt.Tx) error {
		if err := CloseTx(tx, b); err != nil {
			return err
		}
		if err := ResetTx(tx, a); err != nil {
			return err
		}
		return o.EnqueueTx(tx, fedproto.EventUpdate, api.Video{ID: "one"})
	}); err != nil {
		t.Fatal(err)
	}
	if got := queued(t, st, a); len(got) != 1 || got[0].Seq != 4 {
		t.Fatalf("a's queue after a reset: %+v", got)
	}
	if err := st.View(func(tx *bolt.Tx) error {
		if r, _ := RecipientsTx(tx); len(r) != 1 || r[0] != a || QueueTx(tx, b) != nil || SeqTx(tx) != 4 || TotalTx(tx) != 1 {
			t.Errorf("recipients %v, b's queue %v, seq %d, total %d", r, QueueTx(tx, b), SeqTx(tx), TotalTx(tx))
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := st.Update(func(tx *bolt.Tx) error { return o.EnqueueTx(tx, "rename", api.Video{}) }); err == nil {
		t.Fatal("an unknown kind was queued")
	}
}
