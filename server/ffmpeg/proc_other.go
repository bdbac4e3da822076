//go:build !linux

package ffmpeg

import "os/exec"

// killWithParent has no portable equivalent outside Linux.
func killWithParent(*exec.Cmd) {}
