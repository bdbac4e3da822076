package ffmpeg

import "errors"

// ErrUndecodable means ffprobe could not read the file, or found neither
// a video nor an audio stream in it.
var ErrUndecodable = errors.New("ffmpeg: the file cannot be decoded")

// ErrNotInstalled means the ffprobe or ffmpeg program is not available.
var ErrNotInstalled = errors.New("ffmpeg: not installed")
