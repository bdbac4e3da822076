package mirrors

import (
	"context"
	"testing"
	"time"

	"github.com/swarmtube/swarmtube/internal/testenv"
)

func TestMain(m *testing.M) { testenv.VerifyNoLeaks(m) }

// blockingSeeder's Fetch is under way until its context ends.
type blockingSeeder struct {
	*fakeSeeder
	started chan struct{}
}

func (s blockingSeeder) Fetch(ctx context.Context, _ []byte, _ string, _ []string) error {
	close(s.started)
	<-ctx.Done()
	return ctx.Err()
}

// TestRunStops: Run returns once its context ends, even with a fetch under
// way, and leaves no goroutine behind (TestMain checks).
func TestRunStops(t *testing.T) {
	f := newFixture(t, StrategyMostViewed, 1000)
	started := make(chan struct{})
	f.m.seeder = blockingSeeder{f.sd, started}
	f.add(t, "a", 100, 10)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.m.Run(ctx) }()
	f.m.signal() // the first pass plans the fetch, the second makes it
	select {
	case <-started:
	case err := <-done:
		t.Fatalf("Run returned before fetching: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not fetch the most viewed video")
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after its context ended, with a fetch under way")
	}
	if err := f.m.Close(); err != nil {
		t.Fatal(err)
	}
}
