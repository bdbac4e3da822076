package ffmpeg

import (
	"context"
	"errors"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/swarmtube/swarmtube/internal/testenv"
)

func TestParseProbe(t *testing.T) {
	cases := []struct {
		name string
		json string
		want Info
		err  error
	}{
		{"h264 aac", `{"streams":[{"codec_type":"video","codec_name":"h264","pix_fmt":"yuv420p","width":1280,"height":720,"avg_frame_rate":"30000/1001"},{"codec_type":"audio","codec_name":"aac"}],"format":{"format_name":"mov,mp4","duration":"2.5"}}`,
			Info{Format: "mov,mp4", Duration: 2.5, Video: &Video{Codec: "h264", PixFmt: "yuv420p", Width: 1280, Height: 720, FPS: 29.97}, Audio: &Audio{Codec: "aac"}}, nil},
		{"rotated by side data", `{"streams":[{"codec_type":"video","codec_name":"h264","pix_fmt":"yuv420p","width":1920,"height":1080,"avg_frame_rate":"30/1","side_data_list":[{"rotation":-90}]}],"format":{"duration":"1"}}`,
			Info{Duration: 1, Video: &Video{Codec: "h264", PixFmt: "yuv420p", Width: 1080, Height: 1920, FPS: 30, Rotation: 270}}, nil},
		{"rotate tag", `{"streams":[{"codec_type":"video","codec_name":"h264","pix_fmt":"yuv420p","width":640,"height":480,"tags":{"rotate":"180"}}],"format":{}}`,
			Info{Video: &Video{Codec: "h264", PixFmt: "yuv420p", Width: 640, Height: 480, Rotation: 180}}, nil},
		{"cover art is not video", `{"streams":[{"codec_type":"audio","codec_name":"aac","duration":"3"},{"codec_type":"video","codec_name":"mjpeg","width":300,"height":300,"disposition":{"attached_pic":1}}],"format":{}}`,
			Info{Duration: 3, Audio: &Audio{Codec: "aac"}}, nil},
		{"nothing playable", `{"streams":[{"codec_type":"data"}],"format":{}}`, Info{}, ErrUndecodable},
		{"junk", `not json`, Info{}, ErrUndecodable},
		{"bad numbers", `{"streams":[{"codec_type":"video","codec_name":"h264","width":2,"height":2,"avg_frame_rate":"1/0"}],"format":{"duration":"NaN"}}`,
			Info{Video: &Video{Codec: "h264", Width: 2, Height: 2}}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseProbe([]byte(tc.json))
			if !errors.Is(err, tc.err) {
				t.Fatalf("err %v, want %v", err, tc.err)
			}
			if err != nil {
				return
			}
			if got.Format != tc.want.Format || got.Duration != tc.want.Duration ||
				(got.Video == nil) != (tc.want.Video == nil) || (got.Audio == nil) != (tc.want.Audio == nil) ||
				(got.Video != nil && *got.Video != *tc.want.Video) || (got.Audio != nil && *got.Audio != *tc.want.Audio) {
				t.Fatalf("got %+v %+v %+v", got, got.Video, got.Audio)
			}
		})
	}
}

func FuzzParseProbe(f *testing.F) {
	f.Add([]byte(`{"streams":[{"codec_type":"video","codec_name":"h264","width":1,"height":1,"side_data_list":[{"rotation":1e300}]}]}`))
	f.Add([]byte(`{"streams":[{"codec_type":"audio"}],"format":{"duration":"-1"}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		info, err := parseProbe(data)
		if err == nil && info.Video == nil && info.Audio == nil {
			t.Fatal("no stream but no error")
		}
		if info.Video != nil && info.Video.Rotation%90 != 0 {
			t.Fatalf("rotation %d", info.Video.Rotation)
		}
	})
}

func TestWebPlayable(t *testing.T) {
	v := func(codec, pix string, w, h, rot int) *Video {
		return &Video{Codec: codec, PixFmt: pix, Width: w, Height: h, Rotation: rot}
	}
	cases := []struct {
		name      string
		info      Info
		container string
		want      bool
	}{
		{"h264 aac mp4", Info{Video: v("h264", "yuv420p", 1280, 720, 0), Audio: &Audio{"aac"}}, "mp4", true},
		{"h264 no audio", Info{Video: v("h264", "yuv420p", 1280, 720, 0)}, "mp4", true},
		{"vertical 1080x1920 h264", Info{Video: v("h264", "yuv420p", 1080, 1920, 0)}, "mp4", true},
		{"av1 opus mp4", Info{Video: v("av1", "yuv420p", 640, 360, 0), Audio: &Audio{"opus"}}, "mp4", true},
		{"vp9 opus webm", Info{Video: v("vp9", "yuv420p", 640, 360, 0), Audio: &Audio{"opus"}}, "webm", true},
		{"hevc", Info{Video: v("hevc", "yuv420p", 1280, 720, 0)}, "mp4", false},
		{"10-bit h264", Info{Video: v("h264", "yuv420p10le", 1280, 720, 0)}, "mp4", false},
		{"4:4:4 h264", Info{Video: v("h264", "yuv444p", 1280, 720, 0)}, "mp4", false},
		{"1440p", Info{Video: v("h264", "yuv420p", 2560, 1440, 0)}, "mp4", false},
		{"rotated", Info{Video: v("h264", "yuv420p", 1080, 1920, 90)}, "mp4", false},
		{"mp3 audio", Info{Video: v("h264", "yuv420p", 640, 360, 0), Audio: &Audio{"mp3"}}, "mp4", false},
		{"theora ogg", Info{Video: v("theora", "yuv420p", 640, 360, 0)}, "ogv", false},
		{"h264 mkv", Info{Video: v("h264", "yuv420p", 640, 360, 0)}, "mkv", false},
		{"h264 in webm", Info{Video: v("h264", "yuv420p", 640, 360, 0)}, "webm", false},
		{"audio only", Info{Audio: &Audio{"aac"}}, "mp4", false},
	}
	for _, tc := range cases {
		if got := tc.info.WebPlayable(tc.container); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestProbeRealFiles probes files ffmpeg made.
func TestProbeRealFiles(t *testing.T) {
	tools := Find()
	if !tools.Available() {
		testenv.LookPath(t, "ffprobe") // fails or skips as the environment says
	}
	dir := t.TempDir()
	gen := func(args ...string) string {
		path, _ := testenv.MakeClip(t, testenv.Clip{Width: 320, Height: 240, Args: args})
		return path
	}
	plain := gen("-c:v", "libx264", "-pix_fmt", "yuv420p")
	info, err := tools.Probe(context.Background(), plain)
	if err != nil || info.Video == nil || info.Video.Width != 320 || info.Video.Height != 240 || info.Video.FPS != 10 || !info.WebPlayable("mp4") {
		t.Fatalf("plain: %+v %+v %v", info, info.Video, err)
	}
	rotated := filepath.Join(dir, "rotated.mp4")
	if b, err := exec.Command(tools.FFmpeg, "-hide_banner", "-loglevel", "error", "-i", plain, "-c", "copy", "-metadata:s:v:0", "rotate=90", rotated).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v %s", err, b)
	}
	info, err = tools.Probe(context.Background(), rotated)
	if err != nil || info.Video.Width != 240 || info.Video.Height != 320 || info.Video.Rotation%180 != 90 || info.WebPlayable("mp4") {
		t.Fatalf("rotated: %+v %+v %v", info, info.Video, err)
	}
	tenBit := gen("-c:v", "libx264", "-pix_fmt", "yuv420p10le")
	if info, err := tools.Probe(context.Background(), tenBit); err != nil || info.WebPlayable("mp4") {
		t.Fatalf("10-bit: %+v %v", info.Video, err)
	}
	if _, err := tools.Probe(context.Background(), filepath.Join(dir, "missing.mp4")); !errors.Is(err, ErrUndecodable) {
		t.Fatalf("missing file: %v", err)
	}
}

func TestOutputSize(t *testing.T) {
	v := func(w, h int) Info { return Info{Video: &Video{Width: w, Height: h}} }
	cases := []struct {
		info        Info
		short, w, h int
	}{
		{v(1280, 720), 1080, 1280, 720},
		{v(3840, 2160), 1080, 1920, 1080},
		{v(1080, 1920), 1080, 1080, 1920},
		{v(2160, 3840), 1080, 1080, 1920},
		{v(853, 481), 1080, 852, 480},
		{v(1280, 720), 360, 640, 360},
		{v(1000, 1000), 1080, 1000, 1000},
		{v(4000, 1000), 1080, 1920, 480}, // the long side binds
		{v(1, 1), 1080, 2, 2},
		{Info{Audio: &Audio{Codec: "aac"}}, 1080, 640, 360},
	}
	for _, tc := range cases {
		w, h := OutputSize(tc.info, tc.short)
		if w != tc.w || h != tc.h || w%2 != 0 || h%2 != 0 {
			t.Errorf("%+v at %d: %dx%d, want %dx%d", tc.info.Video, tc.short, w, h, tc.w, tc.h)
		}
	}
}
