package testenv

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Clip describes a test video made with ffmpeg from its lavfi test sources:
// a test pattern (testsrc) and, with Audio, a sine tone, encoded as H.264
// (yuv420p) and AAC in an MP4 unless Args say otherwise.
type Clip struct {
	Seconds       int    // length; default 1
	Width, Height int    // default 160x120
	Rate          int    // frames per second; default 10
	Audio         bool   // add an AAC sine tone
	Pattern       string // lavfi video source; default "testsrc"
	Filter        string // lavfi filters after the source, e.g. "geq=random(1)*255:128:128"
	Faststart     bool   // moov before mdat (-movflags +faststart)
	Ext           string // container by extension; default ".mp4"
	// BlackLead is seconds of black frames before the pattern (a fade-in,
	// for poster frame tests); Seconds counts the pattern only.
	BlackLead int
	// Source, when set, is the whole lavfi video source (with its own size
	// and rate, e.g. "mandelbrot=size=640x360:rate=25"), cut to Seconds; it
	// replaces Pattern, Filter, Width, Height and Rate.
	Source string
	// Args replace the default codec arguments (everything after the
	// inputs), for clips of other codecs or bitrates.
	Args []string
}

var (
	clipMu    sync.Mutex // guards clipCache
	clipCache = map[string][]byte{}
)

// MakeClip writes the clip c into a new file in t's temporary directory
// and returns its path and bytes. Clips are made once per test binary and
// the bytes reused, since several tests of a package want the same one;
// ffmpeg runs single-threaded, at most 2 minutes. A missing ffmpeg skips
// the test (fails it in CI).
func MakeClip(t testing.TB, c Clip) (path string, data []byte) {
	t.Helper()
	ff := LookPath(t, "ffmpeg")
	if c.Seconds == 0 {
		c.Seconds = 1
	}
	if c.Width == 0 || c.Height == 0 {
		c.Width, c.Height = 160, 120
	}
	if c.Rate == 0 {
		c.Rate = 10
	}
	if c.Pattern == "" {
		c.Pattern = "testsrc"
	}
	if c.Ext == "" {
		c.Ext = ".mp4"
	}
	d := strconv.Itoa(c.Seconds)
	src := fmt.Sprintf("%s=duration=%s:size=%dx%d:rate=%d", c.Pattern, d, c.Width, c.Height, c.Rate)
	if c.Filter != "" {
		src += "," + c.Filter
	}
	if c.BlackLead > 0 {
		src = fmt.Sprintf("color=c=black:duration=%d:size=%dx%d:rate=%d[lead];%s[pat];[lead][pat]concat=n=2:v=1:a=0[out0]",
			c.BlackLead, c.Width, c.Height, c.Rate, src)
		d = strconv.Itoa(c.Seconds + c.BlackLead)
	}
	if c.Source != "" {
		src = c.Source
	}
	args := []string{"-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i", src}
	if c.Audio {
		args = append(args, "-f", "lavfi", "-i", "sine=duration="+d)
	}
	if c.Source != "" {
		args = append(args, "-t", d)
	}
	codec := c.Args
	if codec == nil {
		codec = []string{"-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"}
		if c.Audio {
			codec = append(codec, "-c:a", "aac")
		}
	}
	args = append(args, codec...)
	args = append(args, "-threads", "1")
	if c.Faststart {
		args = append(args, "-movflags", "+faststart")
	}
	key := strings.Join(args, "\x00") + "\x00" + c.Ext
	path = filepath.Join(t.TempDir(), "clip"+c.Ext)

	clipMu.Lock()
	defer clipMu.Unlock()
	if data, ok := clipCache[key]; ok {
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return path, data
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if out, err := exec.CommandContext(ctx, ff, append(args, path)...).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	clipCache[key] = data
	return path, data
}
