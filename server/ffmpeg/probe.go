package ffmpeg

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os/exec"
	"strconv"
	"strings"
)

// Tools locates the programs. The zero value means "not installed".
type Tools struct {
	FFprobe, FFmpeg string // absolute paths
	Nice            string // nice(1), optional: ffmpeg then runs at a lower CPU priority
}

// Find looks ffprobe, ffmpeg and nice up in PATH. A missing ffprobe or
// ffmpeg leaves both empty: the pipeline needs both or neither.
func Find() Tools {
	var t Tools
	probe, err1 := exec.LookPath("ffprobe")
	mpeg, err2 := exec.LookPath("ffmpeg")
	if err1 == nil && err2 == nil {
		t.FFprobe, t.FFmpeg = probe, mpeg
	}
	t.Nice, _ = exec.LookPath("nice")
	return t
}

// Available reports whether ffprobe and ffmpeg are both there.
func (t Tools) Available() bool { return t.FFprobe != "" && t.FFmpeg != "" }

// Info is what Probe found in a file.
type Info struct {
	Format   string  `json:"format"`   // ffprobe's format_name, e.g. "mov,mp4,m4a,3gp,3g2,mj2"
	Duration float64 `json:"duration"` // seconds; 0 when unknown
	Video    *Video  `json:"video,omitempty"`
	Audio    *Audio  `json:"audio,omitempty"`
}

// Video describes a file's video stream.
type Video struct {
	Codec    string  `json:"codec"`   // ffprobe codec_name: h264, hevc, vp9, av1, prores, mpeg4, theora...
	PixFmt   string  `json:"pix_fmt"` // yuv420p, yuv420p10le, yuv444p...
	Width    int     `json:"width"`   // as displayed (rotation applied)
	Height   int     `json:"height"`
	FPS      float64 `json:"fps"`      // average frame rate; 0 when unknown
	Rotation int     `json:"rotation"` // 0, 90, 180 or 270 degrees
}

// Audio describes a file's audio stream.
type Audio struct {
	Codec string `json:"codec"` // aac, opus, vorbis, mp3, pcm_s16le...
}

// probeOutput is the part of ffprobe's JSON that Probe reads.
type probeOutput struct {
	Streams []struct {
		CodecType    string            `json:"codec_type"`
		CodecName    string            `json:"codec_name"`
		PixFmt       string            `json:"pix_fmt"`
		Width        int               `json:"width"`
		Height       int               `json:"height"`
		AvgFrameRate string            `json:"avg_frame_rate"`
		RFrameRate   string            `json:"r_frame_rate"`
		Duration     string            `json:"duration"`
		Tags         map[string]string `json:"tags"`
		Disposition  map[string]int    `json:"disposition"`
		SideData     []struct {
			Rotation *float64 `json:"rotation"`
		} `json:"side_data_list"`
	} `json:"streams"`
	Format struct {
		FormatName string `json:"format_name"`
		Duration   string `json:"duration"`
	} `json:"format"`
}

// maxProbeOutput bounds the JSON read from ffprobe (a hostile file can
// declare thousands of streams).
const maxProbeOutput = 4 << 20

// Probe describes the media file at path with ffprobe. It returns an error
// wrapping ErrUndecodable when ffprobe cannot read it or it has no video
// and no audio stream, and ErrNotInstalled without ffprobe.
func (t Tools) Probe(ctx context.Context, path string) (Info, error) {
	if t.FFprobe == "" {
		return Info{}, ErrNotInstalled
	}
	cmd := exec.CommandContext(ctx, t.FFprobe, "-v", "error", "-print_format", "json", "-show_format", "-show_streams", "--", path)
	var stdout, stderr limitedBuffer
	stdout.max, stderr.max = maxProbeOutput, 4096
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return Info{}, ctx.Err()
		}
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return Info{}, fmt.Errorf("%w: %s", ErrUndecodable, firstLine(stderr.String()))
		}
		return Info{}, fmt.Errorf("ffmpeg: run ffprobe: %w", err)
	}
	return parseProbe(stdout.Bytes())
}

// parseProbe turns ffprobe's JSON into an Info.
func parseProbe(data []byte) (Info, error) {
	var out probeOutput
	if err := json.Unmarshal(data, &out); err != nil {
		return Info{}, fmt.Errorf("%w: unreadable ffprobe output: %v", ErrUndecodable, err)
	}
	info := Info{Format: out.Format.FormatName, Duration: seconds(out.Format.Duration)}
	for _, s := range out.Streams {
		switch {
		case s.CodecType == "video" && info.Video == nil && s.Disposition["attached_pic"] == 0 && s.Width > 0 && s.Height > 0:
			v := &Video{Codec: s.CodecName, PixFmt: s.PixFmt, Width: s.Width, Height: s.Height, FPS: rate(s.AvgFrameRate)}
			if v.FPS == 0 {
				v.FPS = rate(s.RFrameRate)
			}
			v.Rotation = rotation(s.Tags["rotate"])
			for _, sd := range s.SideData {
				if sd.Rotation != nil {
					v.Rotation = normRotation(int(math.Round(*sd.Rotation)))
				}
			}
			if v.Rotation == 90 || v.Rotation == 270 {
				v.Width, v.Height = v.Height, v.Width
			}
			info.Video = v
			if info.Duration == 0 {
				info.Duration = seconds(s.Duration)
			}
		case s.CodecType == "audio" && info.Audio == nil:
			info.Audio = &Audio{Codec: s.CodecName}
			if info.Duration == 0 {
				info.Duration = seconds(s.Duration)
			}
		}
	}
	if info.Video == nil && info.Audio == nil {
		return Info{}, fmt.Errorf("%w: no video or audio stream", ErrUndecodable)
	}
	return info, nil
}

// WebPlayable reports whether browsers play the file as it is (see the
// package doc). container is the sniffed one: "mp4" or "webm" (media.Container.Ext).
func (i Info) WebPlayable(container string) bool {
	v := i.Video
	if v == nil || v.Rotation != 0 || (v.PixFmt != "yuv420p" && v.PixFmt != "yuvj420p") ||
		max(v.Width, v.Height) > 1920 || min(v.Width, v.Height) > 1080 {
		return false
	}
	var videoOK, audioOK func(string) bool
	switch container {
	case "mp4":
		videoOK = oneOf("h264", "av1", "vp9")
		audioOK = oneOf("aac", "opus")
	case "webm":
		videoOK = oneOf("vp8", "vp9", "av1")
		audioOK = oneOf("opus", "vorbis")
	default:
		return false
	}
	return videoOK(v.Codec) && (i.Audio == nil || audioOK(i.Audio.Codec))
}

func oneOf(names ...string) func(string) bool {
	return func(s string) bool {
		for _, n := range names {
			if s == n {
				return true
			}
		}
		return false
	}
}

// seconds parses a decimal number of seconds; junk, NaN and negatives are 0.
func seconds(s string) float64 {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f < 0 {
		return 0
	}
	return f
}

// rate parses a frame rate "num/den"; anything odd is 0.
func rate(s string) float64 {
	n, d, ok := strings.Cut(s, "/")
	if !ok {
		return 0
	}
	num, err1 := strconv.ParseFloat(n, 64)
	den, err2 := strconv.ParseFloat(d, 64)
	if err1 != nil || err2 != nil || den <= 0 || num <= 0 || num/den > 1000 {
		return 0
	}
	return math.Round(num/den*1000) / 1000
}

func rotation(tag string) int {
	r, err := strconv.Atoi(tag)
	if err != nil {
		return 0
	}
	return normRotation(r)
}

// normRotation maps degrees to 0, 90, 180 or 270 (the nearest quarter turn).
func normRotation(r int) int {
	r = ((r%360)+360)%360 + 45
	return (r / 90 % 4) * 90
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}

// limitedBuffer keeps the first max bytes written and drops the rest, so a
// chatty child process cannot fill the pod's memory.
type limitedBuffer struct {
	bytes.Buffer
	max int
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if room := b.max - b.Len(); room > 0 {
		b.Buffer.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}
