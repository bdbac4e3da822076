package ffmpeg

import (
	"os/exec"
	"syscall"
)

// killWithParent makes the kernel kill ffmpeg if the pod dies (even by
// SIGKILL), so a restarted pod never finds a stray encoder still writing.
func killWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
