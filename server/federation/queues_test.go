package federation

import (
	"path/filepath"
	"slices"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/swarmtube/swarmtube/server/federation/outbox"
	"github.com/swarmtube/swarmtube/server/store"
)

// TestOpenQueues: a store whose queues were made lazily (an active friend
// without one), one with a queue for a requested friend and one no friend
// owns come out with a queue open for exactly the friends that receive
// events: introducing, syncing and active ones.
func TestOpenQueues(t *testing.T) {
	st, err := store.Open(filepath.Join(t.TempDir(), "pod.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := outbox.New(st, "http://self.example"); err != nil {
		t.Fatal(err)
	}
	if err := st.Buckets(bucketFriends); err != nil {
		t.Fatal(err)
	}
	states := map[string]string{
		"http://active.example":      stateActive,
		"http://syncing.example":     stateSyncing,
		"http://introducing.example": stateIntroducing,
		"http://requested.example":   stateRequested,
	}
	if err := st.Update(func(tx *bolt.Tx) error {
		for u, state := range states {
			if err := putFriend(tx, &friendRecord{URL: u, State: state, Score: ScoreInitial}); err != nil {
				return err
			}
		}
		for _, u := range []string{"http://syncing.example", "http://requested.example", "http://gone.example"} {
			if _, err := outbox.OpenTx(tx, u); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := st.Update(openQueues); err != nil {
		t.Fatal(err)
	}
	var got []string
	if err := st.View(func(tx *bolt.Tx) error { got, err = outbox.RecipientsTx(tx); return err }); err != nil {
		t.Fatal(err)
	}
	slices.Sort(got)
	want := []string{"http://active.example", "http://introducing.example", "http://syncing.example"}
	if !slices.Equal(got, want) {
		t.Fatalf("open queues %v, want %v", got, want)
	}
}
