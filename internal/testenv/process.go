package testenv

import (
	"os/exec"
	"syscall"
	"testing"
	"time"
)

// Start starts cmd for the rest of the test and returns a channel closed
// when it exits. When the test ends it gets SIGTERM, the pod's signal to
// shut down in order, and is killed if it has not exited 20 s later;
// after that the test's other cleanups run (registered earlier, they run
// later).
func Start(t testing.TB, cmd *exec.Cmd) <-chan struct{} {
	t.Helper()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(20 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
	})
	return exited
}
