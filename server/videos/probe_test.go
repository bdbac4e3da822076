package videos

import (
	"bytes"
	"math"
	"net/http"
	"os"
	"testing"

	"github.com/swarmtube/swarmtube/internal/testenv"
	"github.com/swarmtube/swarmtube/server/api"
)

// pngHead is the start of a PNG image.
var pngHead = append([]byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01\x00\x00\x00\x01\x00\x08\x06\x00\x00\x00"), bytes.Repeat([]byte{0x42}, 4096)...)

// TestTusSniffsFirstPatch: the container is judged from the first bytes,
// so a file that is not a video is refused by its first PATCH (of a much
// longer upload) and nothing stays on disk. A PATCH too short to decide is
// let through, and the next one decides with the stored bytes.
func TestTusSniffsFirstPatch(t *testing.T) {
	fast, _ := clips(t)
	p := newPod(t)
	const total = 8 << 20 // the client announces 8 MiB; it sends 1 MiB first
	for _, tc := range []struct {
		name  string
		first []byte
	}{
		{"png renamed mp4", pngHead},
		{"zip", append([]byte("PK\x03\x04"), make([]byte, 600)...)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, path := p.tusCreate("alice", total, tusMeta("name", "x", "filename", "x.mp4"))
			chunk := append(append([]byte(nil), tc.first...), make([]byte, 1<<20-len(tc.first))...)
			if r := p.tusPatch("alice", path, 0, chunk); r.StatusCode != http.StatusUnsupportedMediaType {
				t.Fatalf("first PATCH: %d, want 415", r.StatusCode)
			}
			if s, _ := p.tusOffset("alice", path); s != http.StatusNotFound {
				t.Fatalf("upload still there: HEAD %d", s)
			}
			if f := p.files("uploads"); len(f) != 0 {
				t.Fatalf("left on disk: %v", f)
			}
		})
	}
	t.Run("short first chunk", func(t *testing.T) {
		_, path := p.tusCreate("alice", total, tusMeta("name", "x"))
		if r := p.tusPatch("alice", path, 0, pngHead[:8]); r.StatusCode != http.StatusNoContent {
			t.Fatalf("8-byte PATCH: %d", r.StatusCode)
		}
		if r := p.tusPatch("alice", path, 8, pngHead[8:]); r.StatusCode != http.StatusUnsupportedMediaType {
			t.Fatalf("second PATCH: %d, want 415", r.StatusCode)
		}
		if f := p.files("uploads"); len(f) != 0 {
			t.Fatalf("left on disk: %v", f)
		}
	})
	t.Run("video in small chunks", func(t *testing.T) {
		_, path := p.tusCreate("alice", len(fast), tusMeta("name", "chunks"))
		for off := 0; off < len(fast); off += 100 {
			end := min(off+100, len(fast))
			if off > 2000 {
				end = len(fast)
			}
			if r := p.tusPatch("alice", path, off, fast[off:end]); r.StatusCode != http.StatusNoContent {
				t.Fatalf("PATCH at %d: %d", off, r.StatusCode)
			}
			off = end - 100
		}
		if s, v, code := p.tusFinish("alice", path, ""); s != http.StatusCreated || v.Size != int64(len(fast)) {
			t.Fatalf("finish: %d %s", s, code)
		}
	})
}

// TestMultipartSniffsHead: a multipart upload that is not a video is
// refused once its head has arrived, without the pod reading the rest.
func TestMultipartSniffsHead(t *testing.T) {
	p := newPod(t)
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	// The body never ends unless the pod answers and the test stops writing:
	// a 415 proves the pod decided from the head alone.
	go func() {
		defer pw.Close()
		pw.Write([]byte("--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"x.mp4\"\r\n\r\n"))
		pw.Write(pngHead)
		zero := make([]byte, 64<<10)
		for i := 0; i < 1024; i++ { // 64 MiB at most
			if _, err := pw.Write(zero); err != nil {
				return
			}
		}
	}()
	req, _ := http.NewRequest("POST", p.srv.URL+"/api/v1/videos", pr)
	req.Header.Set("Authorization", "Bearer "+p.tokens["alice"])
	req.Header.Set("Content-Type", "multipart/form-data; boundary=B")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnsupportedMediaType {
		t.Fatalf("status %d, want 415", resp.StatusCode)
	}
	if f := p.files("videos"); len(f) != 0 {
		t.Fatalf("left on disk: %v", f)
	}
}

// TestProbeMetadata: ffprobe's findings are stored with the video and
// shown in the API; a file ffprobe cannot decode is refused in plain words
// and leaves nothing behind.
func TestProbeMetadata(t *testing.T) {
	p := newPod(t)
	fast, _ := clips(t)
	status, v, code := p.upload("alice", "probed", "", fast)
	if status != http.StatusCreated {
		t.Fatalf("upload: %d %s", status, code)
	}
	if v.State != api.StatePublished || v.Width != 320 || v.Height != 240 || math.Abs(v.Duration-3) > 0.2 {
		t.Fatalf("video %+v", v)
	}
	var got api.Video
	if p.getJSON("", "/api/v1/videos/"+v.ID, &got); got.Duration != v.Duration || got.State != api.StatePublished {
		t.Fatalf("GET: %+v", got)
	}

	// A WebM whose header is right but whose content is garbage.
	_, data := testenv.MakeClip(t, testenv.Clip{Ext: ".webm", Args: []string{"-c:v", "libvpx", "-b:v", "100k"}})
	garbled := append(append([]byte(nil), data[:40]...), bytes.Repeat([]byte{0xff}, 3000)...)
	truncated := fast[:len(fast)/2] // moov first, media cut
	for name, file := range map[string][]byte{"garbled webm": garbled, "truncated mp4": truncated} {
		status, _, code := p.upload("alice", name, "", file)
		if status != http.StatusUnsupportedMediaType || code != "invalid_video" {
			t.Fatalf("%s: %d %s", name, status, code)
		}
	}
	if f := p.files("videos"); len(f) != 1 {
		t.Fatalf("videos/: %v", f)
	}
	if f := p.files("torrents"); len(f) != 1 {
		t.Fatalf("torrents/: %v", f)
	}
}

// TestWithoutFFmpeg: a pod without ffmpeg accepts MP4, WebM and Ogg as
// they are (no metadata) and refuses other containers from their head.
func TestWithoutFFmpeg(t *testing.T) {
	fast, _ := clips(t)
	p := newPod(t, withoutFFmpeg())
	status, v, code := p.upload("alice", "plain", "", fast)
	if status != http.StatusCreated || v.Duration != 0 || v.State != api.StatePublished {
		t.Fatalf("upload: %d %s %+v", status, code, v)
	}
	mkv := append([]byte("\x1a\x45\xdf\xa3\x93\x42\x82\x88matroska\x42\x87\x81\x04\x42\x85\x81\x02"), make([]byte, 600)...)
	if status, _, code := p.upload("alice", "mkv", "", mkv); status != http.StatusUnsupportedMediaType || code != "not_a_video" {
		t.Fatalf("mkv: %d %s", status, code)
	}
}
