package ffmpeg

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strconv"
	"strings"
)

// Output sizes: the short side of a transcoded file is at most MaxShort
// and its long side at most MaxLong (1080p, either orientation).
const (
	MaxShort = 1080
	MaxLong  = 1920
	// stillSize is the frame of a video made from an audio-only file.
	stillW, stillH = 640, 360
)

// OutputSize returns the even width and height of a rendition of info's
// video whose short side is at most short pixels (never upscaled, never
// above MaxShort × MaxLong), keeping the displayed aspect ratio.
// Audio-only input gets the still image's size.
func OutputSize(info Info, short int) (w, h int) {
	if info.Video == nil {
		return stillW, stillH
	}
	w, h = info.Video.Width, info.Video.Height
	f := 1.0
	if s := min(w, h); s > short {
		f = float64(short) / float64(s)
	}
	if l := float64(max(w, h)) * f; l > MaxLong {
		f *= MaxLong / l
	}
	even := func(x float64) int { return max(2, int(x/2+1e-9)*2) } // rounded down: never above the source
	return even(float64(w) * f), even(float64(h) * f)
}

// Transcode writes an H.264/AAC MP4 with faststart of the file src, which
// Probe described as info, to dst, at most short pixels on its short side
// (see the package doc for the settings). progress, if not nil, is called
// with the fraction done, from 0 to 1. dst is created or replaced; the
// caller syncs and renames it. ctx bounds the run (its deadline is the
// job's time limit); when it ends, ffmpeg is killed.
func (t Tools) Transcode(ctx context.Context, src string, info Info, dst string, short int, progress func(float64)) error {
	if t.FFmpeg == "" {
		return ErrNotInstalled
	}
	w, h := OutputSize(info, short)
	args := []string{"-hide_banner", "-nostdin", "-nostats", "-loglevel", "error", "-y", "-i", src}
	if info.Video == nil {
		args = append(args, "-f", "lavfi", "-i", fmt.Sprintf("color=c=0x1e293b:s=%dx%d:r=2", w, h),
			"-map", "1:v", "-map", "0:a:0", "-shortest", "-tune", "stillimage")
	} else {
		args = append(args, "-map", "0:v:0", "-map", "0:a:0?",
			"-vf", fmt.Sprintf("scale=%d:%d:flags=bicubic,setsar=1", w, h))
	}
	args = append(args,
		"-c:v", "libx264", "-preset", "veryfast", "-crf", "23", "-profile:v", "high", "-pix_fmt", "yuv420p",
		"-c:a", "aac", "-b:a", "128k", "-ac", "2", "-ar", "48000",
		"-map_metadata", "-1", "-movflags", "+faststart", "-f", "mp4",
		"-progress", "pipe:1", "--", dst)
	return t.run(ctx, args, info.Duration, progress)
}

// run runs ffmpeg with args at a lower CPU priority, reporting progress
// from -progress pipe:1 against duration seconds.
func (t Tools) run(ctx context.Context, args []string, duration float64, progress func(float64)) error {
	name := t.FFmpeg
	if t.Nice != "" {
		args = append([]string{"-n", "10", t.FFmpeg}, args...)
		name = t.Nice
	}
	cmd := exec.CommandContext(ctx, name, args...)
	killWithParent(cmd)
	var stderr limitedBuffer
	stderr.max = 4096
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return fmt.Errorf("ffmpeg: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("ffmpeg: start: %w", err)
	}
	readProgress(out, duration, progress)
	err = cmd.Wait()
	switch {
	case ctx.Err() != nil:
		return fmt.Errorf("ffmpeg: %w", ctx.Err())
	case err != nil:
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return &Error{Detail: firstLine(stderr.String())}
		}
		return fmt.Errorf("ffmpeg: %w", err)
	}
	return nil
}

// Error is ffmpeg exiting with a failure; Detail is its first error line
// (for logs: it may hold file paths).
type Error struct{ Detail string }

func (e *Error) Error() string { return "ffmpeg failed: " + e.Detail }

// readProgress reads ffmpeg's -progress key=value lines until EOF. It
// reports out_time_us (microseconds of output written) over duration.
func readProgress(r io.Reader, duration float64, progress func(float64)) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), "=")
		if !ok || progress == nil {
			continue
		}
		switch k {
		case "out_time_us", "out_time_ms": // both are microseconds (an old ffmpeg misnomer)
			us, err := strconv.ParseInt(v, 10, 64)
			if err == nil && duration > 0 && us > 0 {
				progress(min(1, float64(us)/1e6/duration))
			}
		case "progress":
			if v == "end" {
				progress(1)
			}
		}
	}
	_, _ = io.Copy(io.Discard, r)
}
