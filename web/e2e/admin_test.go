package e2e_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/swarmtube/swarmtube/internal/testenv"
)

// TestAdmin uses the admin page to change a user's rights, to make two
// pods friends, and to accept and refuse pods that ask (pod A keeps
// introductions for its admin: --federation-accept manual).
func TestAdmin(t *testing.T) {
	t.Parallel()
	a := startPodWith(t, "pod-a", "127.0.0.1", "--federation-accept", "manual")
	bpod := startPodAt(t, "pod-b", "localhost")
	apiCall(t, a.URL, "", "POST", "/api/v1/users", `{"username":"dave","password":"dave's password"}`, http.StatusCreated)
	b := newBrowser(t)

	b.login(a.URL, "admin", adminPassword, "/admin")
	b.waitJS("admin page", `location.pathname === "/admin" && !document.querySelector("#admin").hidden`, 15*time.Second)

	// Rights: take "upload" from dave.
	row := `#users-table tr[data-username="dave"]`
	b.waitJS("dave listed", fmt.Sprintf(`document.querySelector('%s input[data-right="upload"]')?.checked === true`, row), 10*time.Second)
	b.do("uncheck upload", 10*time.Second,
		chromedp.Click(chromedp.CSS(row+` input[data-right="upload"]`)),
		chromedp.Click(chromedp.CSS(row+` button`)),
	)
	b.waitJS("rights saved", `document.querySelector("#users-status .message.ok") !== null`, 10*time.Second)
	b.screenshot("admin-rights")
	checkAccessible(t, b, "admin")
	tok := apiLogin(t, a.URL, "admin", adminPassword)
	users := apiCall(t, a.URL, tok, "GET", "/api/v1/users", "", http.StatusOK)
	var list struct {
		Data []struct {
			Username string   `json:"username"`
			Rights   []string `json:"rights"`
		} `json:"data"`
	}
	if err := json.Unmarshal(users, &list); err != nil {
		t.Fatal(err)
	}
	for _, u := range list.Data {
		if u.Username == "dave" && len(u.Rights) != 0 {
			t.Errorf("dave still has rights %v", u.Rights)
		}
	}

	// Quotas: give dave 100 MiB in all, 10 MiB a day.
	b.do("set quotas", 10*time.Second,
		chromedp.SendKeys(chromedp.CSS(row+` input[data-quota="total"]`), "100"),
		chromedp.SendKeys(chromedp.CSS(row+` input[data-quota="daily"]`), "10"),
		chromedp.Click(chromedp.CSS(row+` button`)),
	)
	daveQuotas := func() (int64, int64) {
		var quotas struct {
			Data []struct {
				Username        string `json:"username"`
				VideoQuota      int64  `json:"video_quota"`
				VideoQuotaDaily int64  `json:"video_quota_daily"`
			} `json:"data"`
		}
		if err := json.Unmarshal(apiCall(t, a.URL, tok, "GET", "/api/v1/users", "", http.StatusOK), &quotas); err != nil {
			t.Fatal(err)
		}
		for _, u := range quotas.Data {
			if u.Username == "dave" {
				return u.VideoQuota, u.VideoQuotaDaily
			}
		}
		return 0, 0
	}
	testenv.Eventually(t, 10*time.Second, "dave's quotas to be saved", func() bool {
		total, daily := daveQuotas()
		return total == 100<<20 && daily == 10<<20
	})

	// Friends: pod A names pod B.
	if !servesFriends(t, a.URL, tok) {
		return
	}
	b.do("make friends", 10*time.Second,
		chromedp.SendKeys(chromedp.CSS("#pod-urls"), bpod.PodURL),
		chromedp.Click(chromedp.CSS("#friends-form button[type=submit]")),
	)
	b.waitJS("friend listed", fmt.Sprintf(`document.querySelector('#friends-table tr[data-url="%s"]') !== null`, bpod.PodURL), 30*time.Second)
	t.Logf("friends status: %s", b.text("#friends-status"))
	b.screenshot("admin")
	// Both sides know each other.
	btok := apiLogin(t, bpod.URL, "admin", adminPassword)
	if body := apiCall(t, bpod.URL, btok, "GET", "/api/v1/pods", "", http.StatusOK); !strings.Contains(string(body), a.PodURL) {
		t.Errorf("pod B does not list pod A as a friend: %s", body)
	}

	// A video uploaded on pod B is listed on pod A's pages, marked as a
	// friend's, and plays there.
	apiCall(t, bpod.URL, "", "POST", "/api/v1/users", `{"username":"frank","password":"frank's password"}`, http.StatusCreated)
	uploadMultipart(t, bpod.URL, apiLogin(t, bpod.URL, "frank", "frank's password"), makeClip(t, 4), "From the friend pod", "")
	// Federation delivers asynchronously (a friend still finishing its side
	// of the introduction is retried a second later): wait until pod A has
	// the video before loading a page that shows it.
	testenv.Eventually(t, 30*time.Second, "pod A to receive the friend's video", func() bool {
		return strings.Contains(string(apiCall(t, a.URL, "", "GET", "/api/v1/videos", "", http.StatusOK)), "From the friend pod")
	})
	b.do("home of pod A", 20*time.Second, chromedp.Navigate(a.URL+"/"))
	b.waitJS("friend's video listed", `[...document.querySelectorAll(".video-card")].some((c) => c.textContent.includes("From the friend pod"))`, 30*time.Second)
	if meta := b.text(".video-card .meta"); !strings.Contains(meta, strings.TrimPrefix(bpod.PodURL, "http://")) {
		t.Errorf("card meta %q does not name the friend pod", meta)
	}
	b.do("watch the friend's video", 20*time.Second,
		chromedp.Click(chromedp.CSS(".video-card a")),
		chromedp.WaitVisible(chromedp.CSS("#video-info")),
	)
	b.waitJS("player", `!!document.querySelector("#player video")`, 20*time.Second)
	eval[chromedp.Void](b, `(async () => { const v = document.querySelector("#player video"); v.muted = true; await v.play().catch(() => {}); })()`)
	b.waitJS("friend's video plays", `document.querySelector("#player video").currentTime > 1`, 30*time.Second)
	if eval[bool](b, `!!document.querySelector("#delete-video")`) {
		t.Error("a friend's video offers removal on this pod")
	}
	t.Logf("friend's video: %s; %s (%s)", b.text("#video-meta"), b.text("#stats-mode"),
		eval[string](b, `document.querySelector("#stats-mode").title`))
	b.screenshot("watch-friend")

	// Quit, and the table empties.
	b.do("back to admin", 20*time.Second, chromedp.Navigate(a.URL+"/admin"))
	b.waitJS("friend listed", fmt.Sprintf(`document.querySelector('#friends-table tr[data-url="%s"]') !== null`, bpod.PodURL), 15*time.Second)
	b.do("quit friends", 10*time.Second, chromedp.Click(chromedp.CSS("#quit-friends")))
	b.waitJS("no friends", fmt.Sprintf(`document.querySelector('#friends-table tr[data-url="%s"]') === null`, bpod.PodURL), 15*time.Second)

	// Two pods ask; the admin accepts one and refuses the other.
	c, d := startPodAt(t, "pod-c", "localhost"), startPodAt(t, "pod-d", "localhost")
	for _, p := range []*testPod{c, d} {
		res := apiCall(t, p.URL, apiLogin(t, p.URL, "admin", adminPassword), "POST", "/api/v1/pods/makefriends",
			fmt.Sprintf(`{"pods":[%q]}`, a.PodURL), http.StatusOK)
		if !strings.Contains(string(res), `"requested"`) {
			t.Fatalf("%s's makefriends to the manual pod: %s", p.PodURL, res)
		}
	}
	b.do("reload admin", 20*time.Second, chromedp.Navigate(a.URL+"/admin"))
	rowC, rowD := fmt.Sprintf(`#friends-table tr[data-url="%s"]`, c.PodURL), fmt.Sprintf(`#friends-table tr[data-url="%s"]`, d.PodURL)
	b.waitJS("requests listed", fmt.Sprintf(`document.querySelector('%s[data-status="pending"] button[data-action="accept"]') !== null && document.querySelector('%s[data-status="pending"] button[data-action="refuse"]') !== null`, rowC, rowD), 15*time.Second)
	b.screenshot("admin-requests")
	checkAccessible(t, b, "admin with requests")
	b.do("accept pod C", 20*time.Second, chromedp.Click(chromedp.CSS(rowC+` button[data-action="accept"]`)))
	b.waitJS("pod C a friend", fmt.Sprintf(`['syncing', 'active'].includes(document.querySelector('%s')?.dataset.status)`, rowC), 20*time.Second)
	b.do("refuse pod D", 20*time.Second, chromedp.Click(chromedp.CSS(rowD+` button[data-action="refuse"]`)))
	b.waitJS("pod D refused", fmt.Sprintf(`document.querySelector('%s')?.dataset.status === "refused"`, rowD), 20*time.Second)
	if body := string(apiCall(t, c.URL, apiLogin(t, c.URL, "admin", adminPassword), "GET", "/api/v1/pods", "", http.StatusOK)); !strings.Contains(body, a.PodURL) {
		t.Errorf("pod C does not list pod A after the acceptance: %s", body)
	}
}

func servesFriends(t *testing.T, base, tok string) bool {
	t.Helper()
	req, _ := http.NewRequest("GET", base+"/api/v1/pods", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode == http.StatusOK {
		return true
	}
	msg := fmt.Sprintf("the pod does not serve the friends API yet (%d)", res.StatusCode)
	if testenv.InCI() {
		t.Fatal(msg)
	}
	t.Log(msg + ": friend part skipped")
	return false
}

func apiLogin(t *testing.T, base, user, pass string) string {
	t.Helper()
	return testenv.Login(t, http.DefaultClient, base, user, pass)
}

func apiCall(t *testing.T, base, tok, method, path, body string, want int) []byte {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = bytes.NewBufferString(body)
	}
	req, err := http.NewRequest(method, base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	out, _ := io.ReadAll(res.Body)
	if res.StatusCode != want {
		t.Fatalf("%s %s: %d, want %d: %s", method, path, res.StatusCode, want, out)
	}
	return out
}
