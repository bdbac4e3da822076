package testenv

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// CorpusClip is one file of the transcoding acceptance corpus: something
// browsers cannot play as it is, 1 s long and small, made by ffmpeg.
type CorpusClip struct {
	Name string
	Path string // the generated file
	// W and H are the size the pod must publish it at (upright, even,
	// at most 1080p; audio-only files become a 640x360 still image).
	W, H int
}

// corpusSpec says how a corpus clip is made.
var corpusSpec = []struct {
	name, ext, size string
	args            []string // ffmpeg output options after the testsrc and sine inputs
	noVideo, rotate bool
	w, h            int
}{
	{name: "hevc mp4", ext: "mp4", args: []string{"-c:v", "libx265", "-x265-params", "log-level=error", "-pix_fmt", "yuv420p", "-c:a", "aac"}, w: 320, h: 240},
	{name: "theora ogv", ext: "ogv", args: []string{"-c:v", "libtheora", "-c:a", "libvorbis"}, w: 320, h: 240},
	{name: "h264 mkv", ext: "mkv", args: []string{"-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac"}, w: 320, h: 240},
	{name: "mpeg4 avi", ext: "avi", args: []string{"-c:v", "mpeg4", "-c:a", "mp3"}, w: 320, h: 240},
	{name: "prores mov", ext: "mov", args: []string{"-c:v", "prores_ks", "-profile:v", "0", "-c:a", "pcm_s16le"}, w: 320, h: 240},
	{name: "10-bit h264", ext: "mp4", args: []string{"-c:v", "libx264", "-pix_fmt", "yuv420p10le", "-c:a", "aac"}, w: 320, h: 240},
	{name: "4:4:4 h264", ext: "mp4", args: []string{"-c:v", "libx264", "-pix_fmt", "yuv444p", "-c:a", "aac"}, w: 320, h: 240},
	{name: "vertical phone clip", ext: "mp4", size: "1920x1080", rotate: true, args: []string{"-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac"}, w: 1080, h: 1920},
	{name: "odd 853x481", ext: "mkv", size: "853x481", args: []string{"-c:v", "libx264", "-pix_fmt", "yuv444p", "-c:a", "aac"}, w: 852, h: 480},
	{name: "variable frame rate", ext: "mkv", args: []string{"-vf", "setpts='if(lt(N,5),N/10/TB,(N*2)/10/TB)'", "-fps_mode", "vfr", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac"}, w: 320, h: 240},
	{name: "audio-only m4a", ext: "m4a", noVideo: true, args: []string{"-c:a", "aac"}, w: 640, h: 360},
}

// Corpus writes the transcoding acceptance corpus into dir: HEVC MP4,
// Theora OGV, H.264 in MKV, MPEG-4 Part 2 AVI, ProRes MOV, 10-bit and
// 4:4:4 H.264, a vertical 1080x1920 phone clip (1920x1080 with a 90°
// rotation tag), 853x481, variable frame rate, audio-only M4A.
func Corpus(t testing.TB, dir string) []CorpusClip {
	t.Helper()
	ff := LookPath(t, "ffmpeg")
	run := func(args ...string) {
		t.Helper()
		full := append([]string{"-hide_banner", "-loglevel", "error", "-y"}, args...)
		if b, err := exec.Command(ff, full...).CombinedOutput(); err != nil {
			t.Fatalf("ffmpeg %v: %v\n%s", args, err, b)
		}
	}
	var out []CorpusClip
	for _, c := range corpusSpec {
		size := c.size
		if size == "" {
			size = "320x240"
		}
		path := filepath.Join(dir, strings.NewReplacer(" ", "_", ":", "").Replace(c.name)+"."+c.ext)
		var args []string
		if !c.noVideo {
			args = append(args, "-f", "lavfi", "-i", "testsrc=duration=1:size="+size+":rate=10")
		}
		args = append(args, "-f", "lavfi", "-i", "sine=frequency=440:duration=1")
		run(append(append(args, c.args...), "-t", "1", path)...)
		if c.rotate {
			rotated := strings.TrimSuffix(path, "."+c.ext) + "-rotated." + c.ext
			run("-i", path, "-c", "copy", "-metadata:s:v:0", "rotate=90", rotated)
			path = rotated
		}
		out = append(out, CorpusClip{Name: c.name, Path: path, W: c.w, H: c.h})
	}
	return out
}
