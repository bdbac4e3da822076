package videos

import (
	"bytes"
	"encoding/json"
	"image/jpeg"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/swarmtube/swarmtube/internal/testenv"
	"github.com/swarmtube/swarmtube/server/api"
	"github.com/swarmtube/swarmtube/server/federation/fedproto"
	"github.com/swarmtube/swarmtube/server/ffmpeg"
)

// waitImages polls video id until its images job has run (its images or
// their absence recorded).
func (p *pod) waitImages(id string, timeout time.Duration) (api.Video, *images) {
	p.t.Helper()
	var rec *record
	testenv.Eventually(p.t, timeout, id+"'s images job", func() bool {
		if err := p.st.View(func(tx *bolt.Tx) error {
			var err error
			rec, err = getTx(tx, id)
			return err
		}); err != nil {
			p.t.Fatal(err)
		}
		return rec.Images != nil
	})
	return rec.Video, rec.Images
}

// get fetches an absolute URL of the pod.
func (p *pod) get(url string, header map[string]string) (*http.Response, []byte) {
	p.t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		p.t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		p.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, body
}

// TestImagesMadeAndServed: a published video gets a thumbnail, a preview
// and a storyboard, named by their content, served immutable with an ETag
// (a conditional GET is a 304), told to friends by an update event, and
// removed with the video.
func TestImagesMadeAndServed(t *testing.T) {
	fast, _ := clips(t)
	p := newPod(t)
	p.run()
	status, v, code := p.upload("alice", "with images", "", fast)
	if status != http.StatusCreated {
		t.Fatalf("upload: %d %s", status, code)
	}
	v, im := p.waitImages(v.ID, time.Minute)
	if im.None != "" || v.ThumbnailURL == "" || v.PreviewURL == "" || v.StoryboardURL == "" {
		t.Fatalf("images %+v, video %+v", im, v)
	}
	var got api.Video
	p.getJSON("", "/api/v1/videos/"+v.ID, &got)
	if got.ThumbnailURL != v.ThumbnailURL || got.PreviewURL != v.PreviewURL || got.StoryboardURL != v.StoryboardURL {
		t.Fatalf("API answers %+v", got)
	}
	var list api.VideoList
	p.getJSON("", "/api/v1/videos", &list)
	if len(list.Data) != 1 || list.Data[0].ThumbnailURL != v.ThumbnailURL {
		t.Fatalf("list: %+v", list.Data)
	}
	sizes := map[string][2]int{v.ThumbnailURL: {ffmpeg.ThumbWidth, ffmpeg.ThumbHeight}, v.PreviewURL: {ffmpeg.PreviewWidth, ffmpeg.PreviewHeight}}
	for url, size := range sizes {
		if !strings.HasPrefix(url, "http://"+p.addr+ImagesPath) {
			t.Fatalf("URL %s", url)
		}
		resp, body := p.get(url, nil)
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "image/jpeg" ||
			resp.Header.Get("Cache-Control") != "public, max-age=31536000, immutable" || resp.Header.Get("ETag") == "" ||
			resp.Header.Get("Access-Control-Allow-Origin") != "*" {
			t.Fatalf("%s: %d %v", url, resp.StatusCode, resp.Header)
		}
		img, err := jpeg.Decode(bytes.NewReader(body))
		if err != nil || img.Bounds().Dx() != size[0] || img.Bounds().Dy() != size[1] {
			t.Fatalf("%s: %v %v", url, img.Bounds(), err)
		}
		again, body := p.get(url, map[string]string{"If-None-Match": resp.Header.Get("ETag")})
		if again.StatusCode != http.StatusNotModified || len(body) != 0 {
			t.Fatalf("conditional GET: %d, %d bytes", again.StatusCode, len(body))
		}
	}
	resp, body := p.get(v.StoryboardURL, nil)
	var sb storyboardDoc
	if err := json.Unmarshal(body, &sb); err != nil || resp.Header.Get("Content-Type") != "application/json" || sb.Storyboard != ffmpeg.StoryboardGrid(v.Duration) || sb.Count < 3 || sb.Interval != 1 {
		t.Fatalf("storyboard %s: %+v %v %v", body, sb, resp.Header, err)
	}
	spriteURL := v.StoryboardURL[:strings.LastIndexByte(v.StoryboardURL, '/')+1] + sb.Sprite
	resp, body = p.get(spriteURL, nil)
	if img, err := jpeg.Decode(bytes.NewReader(body)); resp.StatusCode != http.StatusOK || err != nil ||
		img.Bounds().Dx() != sb.Columns*ffmpeg.TileWidth || img.Bounds().Dy() != sb.Rows*ffmpeg.TileHeight {
		t.Fatalf("sprite %s: %d %v", spriteURL, resp.StatusCode, err)
	}
	var updated bool
	for _, e := range p.outbox.all() {
		updated = updated || (e.kind == fedproto.EventUpdate && e.v.ThumbnailURL == v.ThumbnailURL)
	}
	if !updated {
		t.Error("friends were not told of the images")
	}
	// Names that are not image names never reach the file system, and the
	// answer names nothing internal.
	for _, name := range []string{"..%2Fpod.db", "x.jpg", strings.Repeat("a", 16) + "-thumb-0123456789abcdef.jpg", "%2e%2e"} {
		resp, body := p.get("http://"+p.addr+ImagesPath+name, nil)
		if resp.StatusCode != http.StatusNotFound || strings.Contains(string(body), p.dir) || !strings.Contains(string(body), "image_not_found") {
			t.Errorf("%s: %d %s", name, resp.StatusCode, body)
		}
	}
	if f := p.files("images"); len(f) != 4 {
		t.Fatalf("images/: %v", f)
	}
	if r, _ := p.do("alice", "DELETE", "/api/v1/videos/"+v.ID, nil, nil); r.StatusCode != http.StatusNoContent {
		t.Fatalf("delete: %d", r.StatusCode)
	}
	if f := p.files("images"); len(f) != 0 {
		t.Fatalf("images/ after removal: %v", f)
	}
	if resp, _ := p.get(v.ThumbnailURL, nil); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("removed video's thumbnail: %d", resp.StatusCode)
	}
}

// TestImagesBackfill: videos published while the pod had no ffmpeg (as
// before images existed) get their images once it has, at the next
// start; without ffmpeg no job is queued and nothing else changes.
func TestImagesBackfill(t *testing.T) {
	fast, slow := clips(t)
	p := newPod(t, withoutFFmpeg())
	p.run()
	var ids []string
	for i, data := range [][]byte{fast, slow} {
		status, v, code := p.upload("alice", "older "+string(rune('a'+i)), "", data)
		if status != http.StatusCreated {
			t.Fatalf("upload: %d %s", status, code)
		}
		ids = append(ids, v.ID)
	}
	if err := p.st.View(func(tx *bolt.Tx) error {
		if n := tx.Bucket([]byte(bucketJobs)).Stats().KeyN; n != 0 {
			t.Errorf("%d jobs queued without ffmpeg", n)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	p.close()
	p.tools = ffmpeg.Find()
	p.open(p.seeder)
	p.run()
	for _, id := range ids {
		if v, im := p.waitImages(id, time.Minute); im.None != "" || v.ThumbnailURL == "" {
			t.Fatalf("%s: %+v %+v", id, im, v)
		}
	}
}

// TestImagesJobSurvivesRestart: an images job a stop (or a crash)
// interrupted runs again at the next start; the half-written temp
// directory and image files no record names are removed.
func TestImagesJobSurvivesRestart(t *testing.T) {
	fast, _ := clips(t)
	p := newPod(t)
	_, v, _ := p.upload("alice", "interrupted", "", fast) // no workers yet: queued
	p.close()
	tmp := filepath.Join(p.dir, "images", ".tmp-"+v.ID)
	stray := filepath.Join(p.dir, "images", v.ID+"-thumb-0123456789abcdef.jpg")
	if err := os.MkdirAll(tmp, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{filepath.Join(tmp, "try-thumb.jpg"), stray} {
		if err := os.WriteFile(f, []byte("half a jpeg"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	p.open(p.seeder)
	p.run()
	v, im := p.waitImages(v.ID, time.Minute)
	if im.None != "" || v.ThumbnailURL == "" {
		t.Fatalf("%+v %+v", im, v)
	}
	// The record is committed before the job removes its temporary
	// directory: stopping waits for the job to end.
	p.close()
	f := p.files("images")
	if len(f) != 4 {
		t.Fatalf("images/: %v", f)
	}
	for _, name := range f {
		if !imageName.MatchString(name) || filepath.Join(p.dir, "images", name) == stray {
			t.Errorf("left in images/: %s", name)
		}
	}
}
