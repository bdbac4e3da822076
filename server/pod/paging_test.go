package pod

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/swarmtube/swarmtube/internal/testenv"
	"github.com/swarmtube/swarmtube/server/httpx"
)

// TestAdminListsPage: the admin lists (users, pods, jobs, mirrors) page as
// GET /api/v1/videos does (httpx.ParsePaging and httpx.Page): 20 items by
// default, start and count honoured, count at most 100, "total" the whole
// list's length, [] past the end, and 400 invalid_paging for a start or
// count out of range. They used to ignore start and count and answer
// everything.
func TestAdminListsPage(t *testing.T) {
	p := startInProcess(t, "--mirror-max-gb", "1", "--federation-accept", "open", "--federation-allow-private")
	base := p.URL()
	tok := loginHTTP(t, base, "admin", "admin-password")

	// 25 users with the admin; three friends, the first with three videos
	// this pod mirrors; three images jobs of this pod's own uploads.
	for i := range 24 {
		if _, err := p.accounts.Register(context.Background(), fmt.Sprintf("user%02d", i), "a long password", nil); err != nil {
			t.Fatal(err)
		}
	}
	var friends []string
	var friendTok string
	var stopOrigin func()
	for i := range 3 {
		args := []string{"--listen", "127.0.0.1:0", "--data", t.TempDir(), "--turn-listen", "127.0.0.1:0", "--federation-accept", "open", "--federation-allow-private"}
		f, stop := runPod(t, args...)
		friends = append(friends, f.URL())
		if i == 0 {
			friendTok = loginHTTP(t, f.URL(), "admin", "admin-password")
			stopOrigin = stop
			continue
		}
		t.Cleanup(stop)
	}
	for i := range 3 {
		_, clip := testenv.MakeClip(t, testenv.Clip{Faststart: true, Seconds: 1 + i})
		uploadVideo(t, nil, friends[0], friendTok, fmt.Sprintf("friend clip %d", i), clip)
		uploadVideo(t, nil, base, tok, fmt.Sprintf("own clip %d", i), clip)
	}
	body, _ := json.Marshal(map[string][]string{"pods": friends})
	if status, b := call(t, base, tok, "POST", "/api/v1/pods/makefriends", string(body)); status != 200 {
		t.Fatalf("makefriends: %d %s", status, b)
	}
	var remote []string
	testenv.Eventually(t, 60*time.Second, "the friend's three videos listed", func() bool {
		remote = remote[:0]
		var l struct{ Data []struct{ ID, Pod string } }
		_, b := call(t, base, "", "GET", "/api/v1/videos?count=100", "")
		_ = json.Unmarshal(b, &l)
		for _, v := range l.Data {
			if v.Pod == friends[0] {
				remote = append(remote, v.ID)
			}
		}
		return len(remote) == 3
	})
	// The origin stops before the picks: a mirror that fetched from its
	// seeder would leave pion's ICE agents timing out after the test
	// (testenv.AnacrolixWebRTC), and a wanted mirror is listed all the same.
	stopOrigin()
	for _, id := range remote {
		if status, b := call(t, base, tok, "PUT", "/api/v1/mirrors/"+url.PathEscape(id), ""); status >= 300 {
			t.Fatalf("pick %s: %d %s", id, status, b)
		}
	}
	testenv.Eventually(t, 120*time.Second, "the images jobs done", func() bool {
		var j struct {
			Queued, Running int
			Data            []json.RawMessage
		}
		_, b := call(t, base, tok, "GET", "/api/v1/jobs?count=100", "")
		_ = json.Unmarshal(b, &j)
		return j.Queued == 0 && j.Running == 0 && len(j.Data) >= 3
	})

	type list struct {
		Total int               `json:"total"`
		Data  []json.RawMessage `json:"data"`
	}
	get := func(t *testing.T, path string) (int, list, string) {
		t.Helper()
		status, b := call(t, base, tok, "GET", path, "")
		var l list
		if status == 200 {
			if err := json.Unmarshal(b, &l); err != nil || l.Data == nil {
				t.Fatalf("GET %s: %s, want {total, data}", path, b)
			}
		}
		return status, l, string(b)
	}
	// key names an item across pages, whatever of it changes meanwhile
	// (a friend's score, a job's progress).
	key := func(field string) func(json.RawMessage) string {
		return func(m json.RawMessage) string {
			var o map[string]any
			_ = json.Unmarshal(m, &o)
			return fmt.Sprint(o[field], "/", o["kind"], "/", o["resolution"])
		}
	}
	for _, tc := range []struct {
		path string
		min  int // items at least (jobs: the pod's own videos may add some)
		key  func(json.RawMessage) string
	}{
		{"/api/v1/users", 25, key("username")},
		{"/api/v1/pods", 3, key("url")},
		{"/api/v1/jobs", 3, key("video")},
		{"/api/v1/mirrors", 3, key("video_id")},
	} {
		t.Run(tc.path, func(t *testing.T) {
			_, all, _ := get(t, tc.path+"?count=100")
			n := all.Total
			if n < tc.min || len(all.Data) != n {
				t.Fatalf("count=100: total %d, %d items; want %d or more, all of them", n, len(all.Data), tc.min)
			}
			for _, pc := range []struct {
				query       string
				first, want int // the page's first index in all, its length
			}{
				{"", 0, min(n, httpx.DefaultCount)},
				{"?start=1&count=2", 1, 2},
				{"?start=" + fmt.Sprint(n-1), n - 1, 1},
				{"?start=" + fmt.Sprint(n), n, 0},
				{"?start=1000000&count=1", n, 0},
				{"?count=1", 0, 1},
			} {
				status, l, b := get(t, tc.path+pc.query)
				if status != 200 || l.Total != n || len(l.Data) != pc.want {
					t.Errorf("%s%s: %d total %d, %d items; want total %d, %d items: %.200s", tc.path, pc.query, status, l.Total, len(l.Data), n, pc.want, b)
					continue
				}
				for i, item := range l.Data {
					if got, want := tc.key(item), tc.key(all.Data[pc.first+i]); got != want {
						t.Errorf("%s%s: item %d is %s, want %s", tc.path, pc.query, i, got, want)
					}
				}
			}
			for _, bad := range []string{"?count=101", "?count=0", "?start=-1", "?start=1000001", "?count=x"} {
				if status, _, b := get(t, tc.path+bad); status != 400 || !strings.Contains(b, `"invalid_paging"`) {
					t.Errorf("%s%s: %d %.200s, want 400 invalid_paging", tc.path, bad, status, b)
				}
			}
		})
	}
}
