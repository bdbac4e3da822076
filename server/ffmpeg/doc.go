// Package ffmpeg runs Debian's ffprobe and ffmpeg for the video pipeline:
// Probe reads what a file holds (container, duration, codecs, size,
// rotation), Info.WebPlayable decides whether browsers play it as it is,
// and Transcode and Images make H.264/AAC MP4 renditions and poster images.
//
// # Probing
//
// Probe runs
//
//	ffprobe -v error -print_format json -show_format -show_streams <file>
//
// and keeps the first video stream that is not an attached picture (cover
// art) and the first audio stream. A file ffprobe cannot open, or with
// neither a video nor an audio stream, is ErrUndecodable. Width and height
// are the displayed ones: a stream with a 90° or 270° rotation (display
// matrix side data, or the older "rotate" tag) has them swapped.
//
// # Web-playable
//
// A file is web-playable, and published without transcoding, when browsers
// play it as it is everywhere: MP4 with H.264, AV1 or VP9 video and AAC or
// Opus audio (or none); or WebM with VP8, VP9 or AV1 and Opus or Vorbis; the
// video 8-bit 4:2:0 (yuv420p), not rotated, and at most 1920×1080 (either
// orientation). Everything else (HEVC, ProRes, MPEG-4 Part 2, Theora,
// 10-bit or 4:4:4 H.264, QuickTime, Matroska, AVI, ASF, audio only) is
// transcoded.
//
// # Transcoding
//
// Transcode writes one H.264 (libx264, preset veryfast, CRF 23, yuv420p,
// High profile) + AAC (128 kb/s, 48 kHz stereo) MP4 with +faststart per
// call, scaled (OutputSize) to a short side of at most the asked height and
// at most 1920×1080 in either orientation, with even dimensions. Rotation is
// applied by ffmpeg's autorotate, so the output is upright and carries no
// rotation. Audio-only input becomes a video of a still dark 640×360 frame
// (2 frames/s, -tune stillimage: a few kB per minute). ffmpeg runs under
// nice -n 10, so viewers' requests keep priority; ctx's deadline is the
// job's time limit, and on Linux ffmpeg is killed with the pod (Pdeathsig)
// so a crash never leaves an encoder writing. Progress is read from
// -progress pipe:1 (out_time_us against the probed duration).
//
// # Images
//
// Images makes, from a published file, a 320×180 thumbnail and an 854×480
// preview of one representative frame (ffmpeg's thumbnail filter over
// about 5 s of frames from 10% in; a flat, black or blank result is tried
// again at 50% and 30%), and a storyboard sprite: a grid of 160×90 tiles,
// one frame a second up to 100 tiles, then evenly spread (only key frames
// are decoded for videos over two minutes). Frames are letterboxed into
// the 16:9 boxes, so every image has its box's exact size. It runs like
// Transcode: nice'd, bounded by ctx, killed with the pod.
package ffmpeg
