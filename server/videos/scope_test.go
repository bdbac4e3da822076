package videos

import (
	"testing"
	"time"
)

// TestSearchScope pins the rules the search page states: names and
// descriptions are searched, every query word matches the start of words
// (a one-letter word only whole words, which keeps "a" from scanning half
// the index), name matches first (issue 17 item 28: "q=an" must find the
// description "An evening…").
func TestSearchScope(t *testing.T) {
	p := newPod(t)
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	if err := p.putRemote(friend,
		remoteVideo("Sunset", "An evening at the beach", base),
		remoteVideo("Sunrise", "A morning walk", base.Add(time.Hour)),
		remoteVideo("Evening news", "", base.Add(-time.Hour))); err != nil {
		t.Fatal(err)
	}
	for q, want := range map[string]string{
		"a":       "Sunrise", // the word "a" only, not every word starting with a
		"an":      "Sunset",
		"eve":     "Evening news|Sunset", // the name match first, though older
		"morning": "Sunrise",
	} {
		if _, l := p.search(q, ""); names(l) != want {
			t.Errorf("q=%s: %s, want %s", q, names(l), want)
		}
	}
}
