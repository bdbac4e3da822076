package uploadparity

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/swarmtube/swarmtube/internal/testenv"
	"github.com/swarmtube/swarmtube/server/ffmpeg"
	"github.com/swarmtube/swarmtube/server/store"
	"github.com/swarmtube/swarmtube/server/videos"
	"github.com/swarmtube/swarmtube/shared/media"
	"github.com/swarmtube/swarmtube/wasm/engine"
)

// TestPodAndBrowserAgree publishes clips on a pod and prepares them as the
// browser does: a moov-last MP4 (rewritten by both), a faststart MP4 and a
// WebM must give identical bytes and info hashes; a Matroska file is
// refused by the browser, which cannot know what the pod will make of it.
func TestPodAndBrowserAgree(t *testing.T) {
	gen := func(ext string, faststart bool, args ...string) []byte {
		_, data := testenv.MakeClip(t, testenv.Clip{Audio: true, Ext: ext, Faststart: faststart, Args: args})
		return data
	}
	moovLast := gen(".mp4", false, "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac")
	if p, err := media.Prepare(bytes.NewReader(moovLast), int64(len(moovLast))); err != nil || !p.Rewritten() {
		t.Fatalf("the clip must have moov last: %v", err)
	}
	cases := []struct {
		name string
		data []byte
	}{
		{"moov-last mp4", moovLast},
		{"faststart mp4", gen(".mp4", true, "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac")},
		{"webm", gen(".webm", false, "-c:v", "libvpx-vp9", "-pix_fmt", "yuv420p", "-b:v", "100k", "-c:a", "libopus")},
	}

	dataDir := t.TempDir()
	st, err := store.Open(filepath.Join(dataDir, "pod.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	svc, err := videos.New(videos.Config{PodURL: "http://127.0.0.1:9", DataDir: dataDir, MaxUploadBytes: 1 << 30, FFmpeg: ffmpeg.Find()},
		st, nil, slog.New(slog.DiscardHandler), prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			title := "Élan vital: " + tc.name
			up := filepath.Join(dataDir, "upload-"+tc.name)
			if err := os.WriteFile(up, tc.data, 0o600); err != nil {
				t.Fatal(err)
			}
			v, err := svc.Publish(context.Background(), videos.Upload{Path: up, Name: title, Owner: "alice"})
			if err != nil {
				t.Fatal(err)
			}
			stored, ok := svc.ResolveWebseed(path.Base(v.WebseedURL))
			if !ok {
				t.Fatalf("no stored file for %s", v.WebseedURL)
			}
			podBytes, err := os.ReadFile(stored)
			if err != nil {
				t.Fatal(err)
			}

			b, err := engine.PrepareUpload(context.Background(), bytes.NewReader(tc.data), int64(len(tc.data)), "", title, nil, "test", nil)
			if err != nil {
				t.Fatal(err)
			}
			browserBytes, err := io.ReadAll(io.NewSectionReader(b.Source, 0, b.Meta.Info.Length))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(podBytes, browserBytes) {
				t.Fatalf("bytes differ: pod %d, browser %d", len(podBytes), len(browserBytes))
			}
			if got := hex.EncodeToString(b.InfoHash[:]); got != v.InfoHash {
				t.Fatalf("info hash: browser %s, pod %s", got, v.InfoHash)
			}
		})
	}
	mkv := gen(".mkv", false, "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac")
	if _, err := engine.PrepareUpload(context.Background(), bytes.NewReader(mkv), int64(len(mkv)), "", "x", nil, "", nil); !errors.Is(err, engine.ErrTranscoded) {
		t.Fatalf("mkv: %v", err)
	}
}
