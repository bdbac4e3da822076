package ffmpeg

import (
	"context"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"math"
	"os"
	"path/filepath"
	"strconv"
)

// Sizes of the images Images makes, in pixels: 16:9 boxes the frame is
// fitted into (letterboxed, never cropped or upscaled beyond the box), so
// pages can reserve their space before they load.
const (
	ThumbWidth, ThumbHeight     = 320, 180 // cards in lists
	PreviewWidth, PreviewHeight = 854, 480 // the watch page's poster, link previews
	TileWidth, TileHeight       = 160, 90  // one storyboard tile
	// MaxTiles bounds a storyboard: at most StoryboardColumns tiles a row,
	// 100 tiles, 1600×900 pixels.
	MaxTiles          = 100
	StoryboardColumns = 10
)

// ImageSet is what Images wrote into its directory.
type ImageSet struct {
	Thumbnail, Preview, Sprite string // file names: thumb.jpg, preview.jpg, sprite.jpg
	// Storyboard describes the sprite's grid: tile i (row-major from the
	// top left) shows the frame at about i × Interval seconds.
	Storyboard Storyboard
	// FrameAt is where the poster frame was looked for (seconds), and
	// Blank whether every place tried gave a flat frame (a still image).
	FrameAt float64
	Blank   bool
}

// Storyboard is the grid of a storyboard sprite.
type Storyboard struct {
	TileWidth  int     `json:"tile_width"`
	TileHeight int     `json:"tile_height"`
	Columns    int     `json:"columns"`
	Rows       int     `json:"rows"`
	Count      int     `json:"count"`    // tiles that hold a frame
	Interval   float64 `json:"interval"` // seconds between tiles
}

// StoryboardGrid returns the grid for a video of duration seconds: one
// tile a second up to MaxTiles, then evenly spread.
func StoryboardGrid(duration float64) Storyboard {
	if !(duration > 0) {
		duration = 1
	}
	interval := math.Max(1, math.Ceil(duration/MaxTiles))
	count := max(1, min(MaxTiles, int(math.Ceil(duration/interval))))
	cols := min(count, StoryboardColumns)
	return Storyboard{TileWidth: TileWidth, TileHeight: TileHeight, Columns: cols,
		Rows: (count + cols - 1) / cols, Count: count, Interval: interval}
}

// posterTries are where, as fractions of the duration, a poster frame is
// looked for, in order: past the usual fade-in first.
var posterTries = []float64{0.1, 0.5, 0.3}

// Images writes a thumbnail (ThumbWidth×ThumbHeight), a preview
// (PreviewWidth×PreviewHeight) and a storyboard sprite of the video file
// src, which Probe described as info, into the existing directory dir.
//
// The poster frame is the one ffmpeg's thumbnail filter finds most
// representative (closest to the average colour histogram) among about
// 5 s of frames from 10% of the way in; when that frame is flat (a black
// or blank screen: luma spread under blankSpread), it tries 50% and 30%,
// and keeps the busiest frame seen; when the first place gives no frame at
// all (a one-frame video, or one frame a second), the start is used. The sprite takes one frame per tile
// interval (fps filter) into a tile grid; for videos over two minutes only
// key frames are decoded (-skip_frame nokey), which keeps the cost near
// the number of key frames rather than of frames. Each run is nice'd and
// bounded by ctx like Transcode. Input without a video stream is
// ErrNoPicture.
func (t Tools) Images(ctx context.Context, src string, info Info, dir string) (ImageSet, error) {
	if t.FFmpeg == "" {
		return ImageSet{}, ErrNotInstalled
	}
	if info.Video == nil {
		return ImageSet{}, ErrNoPicture
	}
	set := ImageSet{Thumbnail: "thumb.jpg", Preview: "preview.jpg", Sprite: "sprite.jpg"}
	best := -1.0
	tries := posterTries
	for len(tries) > 0 {
		at := info.Duration * tries[0]
		tries = tries[1:]
		thumb, preview := filepath.Join(dir, "try-thumb.jpg"), filepath.Join(dir, "try-preview.jpg")
		if err := t.poster(ctx, src, info, at, thumb, preview); err != nil {
			switch {
			case ctx.Err() != nil:
				return ImageSet{}, err
			case best >= 0:
				// A later try failing (a seek past the end) keeps the
				// earlier frame.
			case at > 0:
				// No frame from at on: a video of one frame, or of one
				// frame a second, is shorter than it seems to a seek. Its
				// start is tried, once, before giving up.
				tries = []float64{0}
				continue
			default:
				return ImageSet{}, err
			}
			break
		}
		spread, err := lumaSpread(preview, pictureRect(*info.Video, PreviewWidth, PreviewHeight))
		if err != nil {
			return ImageSet{}, err
		}
		if spread > best {
			best, set.FrameAt = spread, at
			if err := os.Rename(thumb, filepath.Join(dir, set.Thumbnail)); err != nil {
				return ImageSet{}, fmt.Errorf("ffmpeg: keep poster: %w", err)
			}
			if err := os.Rename(preview, filepath.Join(dir, set.Preview)); err != nil {
				return ImageSet{}, fmt.Errorf("ffmpeg: keep poster: %w", err)
			}
		}
		if spread >= blankSpread {
			break
		}
	}
	_ = os.Remove(filepath.Join(dir, "try-thumb.jpg"))
	_ = os.Remove(filepath.Join(dir, "try-preview.jpg"))
	set.Blank = best < blankSpread
	set.Storyboard = StoryboardGrid(info.Duration)
	if err := t.sprite(ctx, src, info, set.Storyboard, filepath.Join(dir, set.Sprite)); err != nil {
		return ImageSet{}, err
	}
	return set, nil
}

// ErrNoPicture is Images' answer for a file without a video stream.
var ErrNoPicture = errors.New("ffmpeg: the file has no picture")

// fit scales a frame into a w×h box, keeping its shape, centred on black.
func fit(w, h int) string {
	return fmt.Sprintf("scale=%d:%d:force_original_aspect_ratio=decrease:flags=bicubic,setsar=1,pad=%d:%d:(ow-iw)/2:(oh-ih)/2:color=black", w, h, w, h)
}

// poster writes the thumbnail and preview of the most representative
// frame among about 5 s of frames from at seconds.
func (t Tools) poster(ctx context.Context, src string, info Info, at float64, thumb, preview string) error {
	fps := info.Video.FPS
	if !(fps > 0) {
		fps = 25
	}
	n := max(1, min(150, int(fps*5))) // the filter's batch: ~5 s of frames
	graph := fmt.Sprintf("[0:v:0]thumbnail=%d,split=2[a][b];[a]%s[t];[b]%s[p]", n, fit(ThumbWidth, ThumbHeight), fit(PreviewWidth, PreviewHeight))
	args := []string{"-hide_banner", "-nostdin", "-nostats", "-loglevel", "error", "-y",
		"-ss", strconv.FormatFloat(at, 'f', 3, 64), "-i", src, "-an", "-sn", "-dn",
		"-filter_complex", graph,
		"-map", "[t]", "-frames:v", "1", "-q:v", "4", "-f", "image2", "-update", "1", "--", thumb,
		"-map", "[p]", "-frames:v", "1", "-q:v", "4", "-f", "image2", "-update", "1", "--", preview}
	if err := t.run(ctx, args, 0, nil); err != nil {
		return err
	}
	for _, p := range []string{thumb, preview} {
		if st, err := os.Stat(p); err != nil || st.Size() == 0 {
			return &Error{Detail: "no frame at " + strconv.FormatFloat(at, 'f', 1, 64) + " s"}
		}
	}
	return nil
}

// sprite writes the storyboard's tile grid of src to dst.
func (t Tools) sprite(ctx context.Context, src string, info Info, sb Storyboard, dst string) error {
	// Tiles are 160×90: the deblocking filter's work is invisible there
	// (-skip_loop_filter all: 13% less CPU on 720p H.264, BENCHMARKS.md).
	args := []string{"-hide_banner", "-nostdin", "-nostats", "-loglevel", "error", "-y", "-skip_loop_filter", "all"}
	if info.Duration > 120 {
		args = append(args, "-skip_frame", "nokey")
	}
	vf := fmt.Sprintf("fps=1/%s,%s,tile=%dx%d", strconv.FormatFloat(sb.Interval, 'f', -1, 64), fit(sb.TileWidth, sb.TileHeight), sb.Columns, sb.Rows)
	args = append(args, "-i", src, "-an", "-sn", "-dn", "-map", "0:v:0", "-vf", vf,
		"-frames:v", "1", "-q:v", "5", "-f", "image2", "-update", "1", "--", dst)
	if err := t.run(ctx, args, 0, nil); err != nil {
		return err
	}
	if st, err := os.Stat(dst); err != nil || st.Size() == 0 {
		return &Error{Detail: "no storyboard written"}
	}
	return nil
}

// blankSpread is the luma spread (standard deviation, 0-255) under which
// a frame counts as flat: black, a fade, a solid colour.
const blankSpread = 10

// pictureRect is where fit puts a v-shaped frame in a w×h box, inset by
// 2 pixels: the letterbox bars must not count as detail.
func pictureRect(v Video, w, h int) image.Rectangle {
	if v.Width <= 0 || v.Height <= 0 {
		return image.Rect(0, 0, w, h)
	}
	f := math.Min(float64(w)/float64(v.Width), float64(h)/float64(v.Height))
	pw, ph := int(float64(v.Width)*f), int(float64(v.Height)*f)
	x, y := (w-pw)/2, (h-ph)/2
	r := image.Rect(x+2, y+2, x+pw-2, y+ph-2)
	if r.Empty() {
		return image.Rect(0, 0, w, h)
	}
	return r
}

// lumaSpread returns the standard deviation of the luma of the JPEG at
// path within r, sampled on a grid (ffmpeg writes YCbCr JPEGs, so luma
// is read as is).
func lumaSpread(path string, r image.Rectangle) (float64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, fmt.Errorf("ffmpeg: read poster: %w", err)
	}
	defer f.Close()
	img, err := jpeg.Decode(f)
	if err != nil {
		return 0, &Error{Detail: "unreadable poster: " + err.Error()}
	}
	return spread(img, r), nil
}

// spread is the standard deviation of img's luma within r over a grid of
// at most 64×36 samples.
func spread(img image.Image, r image.Rectangle) float64 {
	b := img.Bounds().Intersect(r)
	var sum, sq, n float64
	for y := b.Min.Y; y < b.Max.Y; y += max(1, b.Dy()/36) {
		for x := b.Min.X; x < b.Max.X; x += max(1, b.Dx()/64) {
			var l float64
			if yc, ok := img.(*image.YCbCr); ok {
				l = float64(yc.Y[yc.YOffset(x, y)])
			} else {
				r, g, bl, _ := img.At(x, y).RGBA()
				l = (0.299*float64(r) + 0.587*float64(g) + 0.114*float64(bl)) / 257
			}
			sum += l
			sq += l * l
			n++
		}
	}
	if n == 0 {
		return 0
	}
	mean := sum / n
	return math.Sqrt(math.Max(0, sq/n-mean*mean))
}
