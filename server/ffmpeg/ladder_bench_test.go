package ffmpeg

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/swarmtube/swarmtube/internal/testenv"
)

// BenchmarkLadder measures what the resolution ladder costs: Transcode,
// with the pipeline's own settings (x264 veryfast, CRF 23, AAC, nice 10),
// of a 1080p H.264/AAC source (what a rendition job reads: the video's
// best file) to each lower resolution. It reports the speed in seconds of
// video per second of wall time (x_realtime). The source is
// SWARMTUBE_LADDER_SECONDS long (default 6), 30 fps, lavfi testsrc2 and a
// sine tone.
//
//	go test -run '^$' -bench BenchmarkLadder -benchtime 1x ./server/ffmpeg/
func BenchmarkLadder(b *testing.B) {
	testenv.LookPath(b, "ffmpeg")
	secs := 6
	if s, err := strconv.Atoi(os.Getenv("SWARMTUBE_LADDER_SECONDS")); err == nil && s > 0 {
		secs = s
	}
	tools := Find()
	src, _ := testenv.MakeClip(b, testenv.Clip{Seconds: secs, Width: 1920, Height: 1080, Rate: 30, Audio: true, Pattern: "testsrc2", Faststart: true,
		Args: []string{"-c:v", "libx264", "-preset", "veryfast", "-crf", "23", "-pix_fmt", "yuv420p", "-c:a", "aac"}})
	info, err := tools.Probe(b.Context(), src)
	if err != nil {
		b.Fatal(err)
	}
	for _, res := range []int{1080, 720, 480, 360, 240} {
		b.Run(fmt.Sprintf("%dp", res), func(b *testing.B) {
			dst := filepath.Join(b.TempDir(), "out.mp4")
			var wall time.Duration
			for range b.N {
				begin := time.Now()
				if err := tools.Transcode(b.Context(), src, info, dst, res, nil); err != nil {
					b.Fatal(err)
				}
				wall += time.Since(begin)
			}
			st, err := os.Stat(dst)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(info.Duration*float64(b.N)/wall.Seconds(), "x_realtime")
			b.ReportMetric(float64(st.Size())/1024, "KiB")
		})
	}
}
