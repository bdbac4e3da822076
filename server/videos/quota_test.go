package videos

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/swarmtube/swarmtube/server/accounts"
	"github.com/swarmtube/swarmtube/server/api"
)

// quotaPod is a test pod whose video service enforces the accounts' quotas.
func quotaPod(t *testing.T, opts ...podOption) *pod {
	var p *pod
	opts = append([]podOption{withConfig(func(c *Config) {
		c.Quota = func(u accounts.User) (int64, int64) { return p.acc.Quotas(u) }
		c.MaxOpenUploads = 4
	})}, opts...)
	p = newPod(t, opts...)
	return p
}

func ptr(n int64) *int64 { return &n }

// apiError decodes an API error answer.
func apiError(t *testing.T, b []byte) api.Error {
	t.Helper()
	var e api.Error
	if err := json.Unmarshal(b, &e); err != nil {
		t.Fatalf("not an API error: %s", b)
	}
	return e
}

// TestQuotas: uploads beyond a user's total or daily quota are refused with
// 413 and a plain reason, through multipart and tus; removing a video gives
// its room back; the admin's figure and the default both apply.
func TestQuotas(t *testing.T) {
	p := quotaPod(t)
	fast, _ := clips(t)
	size := int64(len(fast))
	ctx := context.Background()
	if _, err := p.acc.SetQuota(ctx, "alice", ptr(size*3/2), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := p.acc.SetQuota(ctx, "bob", nil, ptr(size*3/2)); err != nil {
		t.Fatal(err)
	}
	if _, err := p.acc.SetQuota(ctx, "bob", ptr(-2), nil); err == nil {
		t.Fatal("a quota of -2 was accepted")
	}

	s, first, _ := p.upload("alice", "first", "", fast)
	if s != http.StatusCreated {
		t.Fatalf("first upload: %d", s)
	}
	body, hdr := mustForm(t, fast)
	resp, b := p.do("alice", "POST", "/api/v1/videos", body, hdr)
	if e := apiError(t, b); resp.StatusCode != http.StatusRequestEntityTooLarge || e.Error != "quota_exceeded" ||
		!strings.Contains(e.Message, "does not fit in your quota") || !strings.Contains(e.Message, "KiB") {
		t.Fatalf("second multipart upload: %d %s", resp.StatusCode, b)
	}
	checkNoInternals(t, "over quota", p.dir, resp.StatusCode, b)
	cr, _ := p.tusCreate("alice", len(fast), tusMeta("name", "third"))
	if cr.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("tus create over quota: %d", cr.StatusCode)
	}
	var usage api.QuotaUsage
	if s := p.getJSON("alice", "/api/v1/users/me/quota", &usage); s != 200 || usage.Used != first.Size || usage.VideoQuota != size*3/2 || usage.VideoQuotaDaily != -1 {
		t.Fatalf("usage: %d %+v", s, usage)
	}
	// Removing the video frees its room.
	if r, b := p.do("alice", "DELETE", "/api/v1/videos/"+first.ID, nil, nil); r.StatusCode != http.StatusNoContent {
		t.Fatalf("remove: %d %s", r.StatusCode, b)
	}
	if s, _, code := p.upload("alice", "again", "", fast); s != http.StatusCreated {
		t.Fatalf("upload after removal: %d %s", s, code)
	}

	// Bob: unlimited total, a daily quota.
	if s, _, _ := p.upload("bob", "daily one", "", fast); s != http.StatusCreated {
		t.Fatalf("bob's first: %d", s)
	}
	s, _, code := p.upload("bob", "daily two", "", fast)
	if s != http.StatusRequestEntityTooLarge || code != "daily_quota_exceeded" {
		t.Fatalf("bob's second: %d %s", s, code)
	}
	// Carol has no own figure: the default (unlimited here) applies.
	var me api.User
	if s := p.getJSON("bob", "/api/v1/users/me", &me); s != 200 || me.VideoQuota != -1 || me.VideoQuotaDaily != size*3/2 {
		t.Fatalf("bob's me: %d %+v", s, me)
	}
}

func mustForm(t *testing.T, file []byte) (body *bytes.Reader, hdr map[string]string) {
	t.Helper()
	r, ct := multipartBody(t, map[string]string{"name": "x"}, "x.mp4", file)
	b, _ := readAll(r)
	return bytes.NewReader(b), map[string]string{"Content-Type": ct}
}

// TestOpenUploadsAndFreeSpace is attack 9 of issue 14: one user creating
// many huge resumable uploads. They stop at the per-user cap, and free
// space is reserved against each Upload-Length, so the disk cannot be
// promised twice; a full disk answers 507 with no path.
func TestOpenUploadsAndFreeSpace(t *testing.T) {
	const gib = 1 << 30
	free := int64(10 * gib)
	p := quotaPod(t, withMaxSize(8*gib), withConfig(func(c *Config) {
		c.MaxOpenUploads = 3
		c.FreeSpace = func(string) (int64, error) { return free, nil }
		c.MinFreeBytes = 512 << 20
	}))
	var paths []string
	for i := range 2 {
		resp, path := p.tusCreate("alice", 4*gib, tusMeta("name", "big"))
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("create %d: %d", i, resp.StatusCode)
		}
		paths = append(paths, path)
	}
	// 8 GiB promised of 10: a third 4 GiB upload would leave less than 512 MiB.
	resp, b := p.do("alice", "POST", UploadsPath, nil, map[string]string{"Tus-Resumable": "1.0.0", "Upload-Length": "4294967296", "Upload-Metadata": tusMeta("name", "big")})
	if e := apiError(t, b); resp.StatusCode != http.StatusInsufficientStorage || e.Error != "insufficient_storage" {
		t.Fatalf("third 4 GiB upload: %d %s", resp.StatusCode, b)
	}
	checkNoInternals(t, "full disk at creation", p.dir, resp.StatusCode, b)
	// Small ones fit, up to the cap.
	if resp, _ := p.tusCreate("alice", 1000, tusMeta("name", "small")); resp.StatusCode != http.StatusCreated {
		t.Fatalf("small upload: %d", resp.StatusCode)
	}
	resp, b = p.do("alice", "POST", UploadsPath, nil, map[string]string{"Tus-Resumable": "1.0.0", "Upload-Length": "1000", "Upload-Metadata": tusMeta("name", "small")})
	if e := apiError(t, b); resp.StatusCode != http.StatusForbidden || e.Error != "too_many_uploads" {
		t.Fatalf("fourth upload: %d %s", resp.StatusCode, b)
	}
	// Another user is not held back by alice's cap.
	if resp, _ := p.tusCreate("bob", 1000, tusMeta("name", "bob's")); resp.StatusCode != http.StatusCreated {
		t.Fatalf("bob: %d", resp.StatusCode)
	}
	// Cancelling an upload gives its place and its room back.
	if r, _ := p.do("alice", "DELETE", paths[0], nil, map[string]string{"Tus-Resumable": "1.0.0"}); r.StatusCode != http.StatusNoContent {
		t.Fatalf("cancel: %d", r.StatusCode)
	}
	if resp, _ := p.tusCreate("alice", 4*gib, tusMeta("name", "big again")); resp.StatusCode != http.StatusCreated {
		t.Fatalf("create after cancel: %d", resp.StatusCode)
	}
	// Multipart uploads are checked against free space too, before the body is read.
	free = 600 << 20
	fast, _ := clips(t)
	body, hdr := mustForm(t, fast)
	resp, b = p.do("bob", "POST", "/api/v1/videos", body, hdr)
	if resp.StatusCode != http.StatusInsufficientStorage {
		t.Fatalf("multipart on a full disk: %d %s", resp.StatusCode, b)
	}
	checkNoInternals(t, "multipart on a full disk", p.dir, resp.StatusCode, b)
}

// TestFullDiskENOSPC fills a real file system: a 16 MiB tmpfs mounted by
// the test (root only; skipped when it cannot mount). A resumable upload
// created while there was room then meets ENOSPC: 507 with no path, and a
// multipart upload too.
func TestFullDiskENOSPC(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs needs root")
	}
	dir := filepath.Join(t.TempDir(), "small")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs: %v %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount: %v %s", err, out)
		}
	})
	var checkFree atomic.Bool
	checkFree.Store(true)
	p := quotaPod(t, withDir(dir), withConfig(func(c *Config) {
		c.FreeSpace = func(d string) (int64, error) {
			if !checkFree.Load() {
				return 1 << 40, nil // as if the check had raced with the filler
			}
			return DiskFree(d)
		}
	}))
	fast, _ := clips(t)
	resp, path := p.tusCreate("alice", 6<<20, tusMeta("name", "will not fit"))
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create: %d", resp.StatusCode)
	}
	fill := func() {
		t.Helper()
		f, err := os.Create(filepath.Join(dir, "filler"))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		chunk := make([]byte, 64<<10)
		for {
			if _, err := f.Write(chunk); err != nil {
				return
			}
		}
	}
	// Someone else fills the disk (the check at creation cannot foresee it).
	fill()
	// A real video's first bytes: the pod sniffs the first PATCH.
	data := append(append([]byte(nil), fast...), make([]byte, 6<<20-len(fast))...)
	r, b := p.do("alice", "PATCH", path, bytes.NewReader(data), map[string]string{
		"Tus-Resumable": "1.0.0", "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream",
	})
	if e := apiError(t, b); r.StatusCode != http.StatusInsufficientStorage || e.Error != "insufficient_storage" {
		t.Fatalf("PATCH on a full disk: %d %s", r.StatusCode, b)
	}
	checkNoInternals(t, "tus PATCH on a full disk", dir, r.StatusCode, b)
	// A multipart upload whose check passed meets ENOSPC while writing.
	checkFree.Store(false)
	fb, hdr := mustForm(t, fast)
	r, b = p.do("bob", "POST", "/api/v1/videos", fb, hdr)
	if r.StatusCode != http.StatusInsufficientStorage {
		t.Fatalf("multipart on a full disk: %d %s", r.StatusCode, b)
	}
	checkNoInternals(t, "multipart on a full disk", dir, r.StatusCode, b)
	// With the check on, a new upload is refused before any byte is sent.
	checkFree.Store(true)
	if resp, _ := p.tusCreate("bob", 1<<20, tusMeta("name", "no room")); resp.StatusCode != http.StatusInsufficientStorage {
		t.Fatalf("create on a full disk: %d", resp.StatusCode)
	}
}

// TestAbandonedUploadsExpire: an unfinished upload untouched for
// Config.UploadExpiry is removed by the janitor and gives its place under
// the per-user cap back; a younger one stays. File times are set, not
// waited for.
func TestAbandonedUploadsExpire(t *testing.T) {
	p := quotaPod(t, withConfig(func(c *Config) {
		c.UploadExpiry = 2 * time.Hour
		c.MaxOpenUploads = 2
	}))
	_, old := p.tusCreate("alice", 1000, tusMeta("name", "old"))
	_, young := p.tusCreate("alice", 1000, tusMeta("name", "young"))
	if r, _ := p.tusCreate("alice", 1000, tusMeta("name", "third")); r.StatusCode != http.StatusForbidden {
		t.Fatalf("third upload under a cap of 2: %d", r.StatusCode)
	}
	age := func(path string, d time.Duration) {
		id := path[strings.LastIndexByte(path, '/')+1:]
		for _, f := range []string{id, id + ".info"} {
			at := time.Now().Add(-d)
			if err := os.Chtimes(filepath.Join(p.dir, "uploads", f), at, at); err != nil {
				t.Fatal(err)
			}
		}
	}
	age(old, 3*time.Hour)
	age(young, time.Hour)
	p.svc.cleanup()
	if s, _ := p.tusOffset("alice", old); s != http.StatusNotFound {
		t.Errorf("the abandoned upload: HEAD %d, want 404", s)
	}
	if s, _ := p.tusOffset("alice", young); s != http.StatusOK {
		t.Errorf("the young upload: HEAD %d, want 200", s)
	}
	if r, _ := p.tusCreate("alice", 1000, tusMeta("name", "third")); r.StatusCode != http.StatusCreated {
		t.Fatalf("after expiry the cap has room again: %d", r.StatusCode)
	}
}

// TestRefusedUploadGivesItsPlaceBack: an upload refused on its first PATCH
// (not a video) gives its place under the per-user cap back at once. The
// room reserved at creation outlived it by a minute (the newcomer's
// three refused uploads held three of four places).
func TestRefusedUploadGivesItsPlaceBack(t *testing.T) {
	p := quotaPod(t, withConfig(func(c *Config) { c.MaxOpenUploads = 1 }))
	png := append([]byte("\x89PNG\r\n\x1a\n"), bytes.Repeat([]byte{0}, 600)...)
	for i := range 3 {
		resp, path := p.tusCreate("alice", len(png), tusMeta("name", "not a video"))
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("upload %d after %d refused: %d, want 201", i+1, i, resp.StatusCode)
		}
		if r := p.tusPatch("alice", path, 0, png); r.StatusCode != http.StatusUnsupportedMediaType {
			t.Fatalf("PATCH of a PNG: %d, want 415", r.StatusCode)
		}
	}
}
