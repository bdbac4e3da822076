package ffmpeg

import (
	"errors"
	"image"
	"image/jpeg"
	"os"
	"path/filepath"
	"testing"

	"github.com/swarmtube/swarmtube/internal/testenv"
)

// TestImagesRealClips makes images of real clips: the sizes are exact,
// the poster of a clip that opens on 8 s of black is taken from the
// picture (the first place looked at, 1.2 s in, gives only black frames to
// the thumbnail filter, so a later place is tried), a vertical clip is letterboxed, a clip of one
// frame gets it as its poster, and the sprite has the grid's size.
func TestImagesRealClips(t *testing.T) {
	tools := Find()
	if !tools.Available() {
		testenv.LookPath(t, "ffmpeg", "ffprobe")
	}
	cases := []struct {
		name string
		clip testenv.Clip
	}{
		{"black lead-in", testenv.Clip{BlackLead: 8, Seconds: 4, Width: 320, Height: 180, Faststart: true}},
		{"vertical", testenv.Clip{Seconds: 2, Width: 90, Height: 160, Faststart: true}},
		// One frame in all: a seek to 10% of its second found no frame
		// after it, and the video got no images ("its frames could not
		// be decoded").
		{"one frame", testenv.Clip{Seconds: 1, Rate: 1, Faststart: true}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			src, _ := testenv.MakeClip(t, tc.clip)
			info, err := tools.Probe(t.Context(), src)
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			set, err := tools.Images(t.Context(), src, info, dir)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("poster frame looked for at %.1f s", set.FrameAt)
			if set.Blank || (tc.clip.BlackLead > 0 && set.FrameAt < float64(tc.clip.BlackLead)/2) {
				t.Errorf("poster is flat or from the black lead-in (looked at %.1f s)", set.FrameAt)
			}
			thumb := decode(t, filepath.Join(dir, set.Thumbnail))
			preview := decode(t, filepath.Join(dir, set.Preview))
			if thumb.Bounds().Dx() != ThumbWidth || thumb.Bounds().Dy() != ThumbHeight ||
				preview.Bounds().Dx() != PreviewWidth || preview.Bounds().Dy() != PreviewHeight {
				t.Errorf("thumbnail %v, preview %v", thumb.Bounds(), preview.Bounds())
			}
			if s := spread(preview, pictureRect(*info.Video, PreviewWidth, PreviewHeight)); s < blankSpread {
				t.Errorf("preview spread %.1f: a flat frame", s)
			}
			sb := set.Storyboard
			sprite := decode(t, filepath.Join(dir, set.Sprite))
			if sprite.Bounds().Dx() != sb.Columns*TileWidth || sprite.Bounds().Dy() != sb.Rows*TileHeight || sb.Count < int(info.Duration) {
				t.Errorf("sprite %v for %+v (%.1f s)", sprite.Bounds(), sb, info.Duration)
			}
			entries, _ := os.ReadDir(dir)
			if len(entries) != 3 {
				t.Errorf("left in the directory: %v", entries)
			}
			if tc.name == "vertical" {
				// The bars are black and the picture in the middle is not.
				p := preview.(*image.YCbCr)
				if edge, mid := p.Y[p.YOffset(5, 240)], p.Y[p.YOffset(427, 240)]; edge > 30 || mid < 30 {
					t.Errorf("letterbox: edge luma %d, middle %d", edge, mid)
				}
			}
		})
	}
	if _, err := tools.Images(t.Context(), "x", Info{Audio: &Audio{Codec: "aac"}}, t.TempDir()); !errors.Is(err, ErrNoPicture) {
		t.Errorf("audio only: %v", err)
	}
}

func decode(t *testing.T, path string) image.Image {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := jpeg.Decode(f)
	if err != nil {
		t.Fatalf("%s: %v", filepath.Base(path), err)
	}
	return img
}

func TestStoryboardGrid(t *testing.T) {
	for _, tc := range []struct {
		d    float64
		want Storyboard
	}{
		{0, Storyboard{160, 90, 1, 1, 1, 1}},
		{2.4, Storyboard{160, 90, 3, 1, 3, 1}},
		{60, Storyboard{160, 90, 10, 6, 60, 1}},
		{100, Storyboard{160, 90, 10, 10, 100, 1}},
		{101, Storyboard{160, 90, 10, 6, 51, 2}},
		{3600, Storyboard{160, 90, 10, 10, 100, 36}},
	} {
		if got := StoryboardGrid(tc.d); got != tc.want {
			t.Errorf("%v s: %+v, want %+v", tc.d, got, tc.want)
		}
	}
}

// BenchmarkImages times Images (poster, preview, storyboard) on a 60 s
// 720p30 H.264 clip: the cost of one images job.
//
//	go test -run '^$' -bench Images -benchtime 3x ./server/ffmpeg
func BenchmarkImages(b *testing.B) {
	tools := Find()
	if !tools.Available() {
		testenv.LookPath(b, "ffmpeg", "ffprobe")
	}
	src, _ := testenv.MakeClip(b, testenv.Clip{Seconds: 60, Width: 1280, Height: 720, Rate: 30, Pattern: "testsrc2", Faststart: true})
	info, err := tools.Probe(b.Context(), src)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		if _, err := tools.Images(b.Context(), src, info, b.TempDir()); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(info.Duration/(b.Elapsed().Seconds()/float64(b.N)), "x_realtime")
}
