package videos

import (
	"encoding/json"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/swarmtube/swarmtube/server/api"
)

// TestViews: a view counts once per viewer session, is refused for
// unknown videos and malformed sessions, and one address cannot count more
// than its allowance (issue 17: views).
func TestViews(t *testing.T) {
	p := newPod(t)
	clip, _ := clips(t)
	s, v, e := p.upload("alice", "counted", "", clip)
	if s != 201 {
		t.Fatalf("upload: %d %s", s, e)
	}
	post := func(id, session string) (int, viewAnswer) {
		t.Helper()
		resp, body := p.do("", "POST", "/api/v1/videos/"+id+"/views", strings.NewReader(`{"session":"`+session+`"}`), map[string]string{"Content-Type": "application/json"})
		var a viewAnswer
		if resp.StatusCode == 200 {
			if err := json.Unmarshal(body, &a); err != nil {
				t.Fatal(err)
			}
		}
		return resp.StatusCode, a
	}
	if st, a := post(v.ID, "session-one"); st != 200 || !a.Counted || a.Views != 1 {
		t.Fatalf("first view: %d %+v", st, a)
	}
	if st, a := post(v.ID, "session-one"); st != 200 || a.Counted || a.Views != 1 {
		t.Fatalf("the same session again: %d %+v", st, a)
	}
	if st, a := post(v.ID, "session-two"); st != 200 || !a.Counted || a.Views != 2 {
		t.Fatalf("another session: %d %+v", st, a)
	}
	var got api.Video
	if st := p.getJSON("", "/api/v1/videos/"+v.ID, &got); st != 200 || got.Views != 2 {
		t.Fatalf("video: %d views=%d", st, got.Views)
	}
	if st, _ := post("aaaaaaaaaaaaaaaa", "session-one"); st != 404 {
		t.Errorf("unknown video: %d", st)
	}
	if st, _ := post(v.ID, "short"); st != 400 {
		t.Errorf("a 5-character session: %d", st)
	}

	// One address, many sessions: at most viewsPerClient count.
	vt := newViewTable()
	addr := netip.MustParseAddr("203.0.113.9")
	now := time.Now()
	n := 0
	for i := range viewsPerClient + 50 {
		if vt.admit("v", strings.Repeat("s", 8)+string(rune('a'+i%26))+strings.Repeat("x", i/26), addr, now) {
			n++
		}
	}
	if n != viewsPerClient {
		t.Errorf("one address counted %d views, want %d", n, viewsPerClient)
	}
	if !vt.admit("v", "other-address", netip.MustParseAddr("203.0.113.10"), now) {
		t.Error("another address was refused")
	}
	if !vt.admit("v", "session-again", addr, now.Add(viewWindow+time.Minute)) {
		t.Error("the address's allowance did not come back after the window")
	}
}
