package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
)

var (
	podOnce sync.Once
	podBin  string
	podErr  error
)

// BuildPod builds the pod binary (./server/cmd/swarmtube) once per test
// process into a world-readable temporary directory (a test may run it as
// another user) and returns its path. A TestMain that uses it calls
// RemoveBuilt after m.Run.
func BuildPod() (string, error) {
	podOnce.Do(func() {
		_, file, _, _ := runtime.Caller(0)
		root := filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
		dir, err := os.MkdirTemp("", "swarmtube-pod-")
		if err != nil {
			podErr = err
			return
		}
		os.Chmod(dir, 0o755)
		podBin = filepath.Join(dir, "swarmtube")
		cmd := exec.Command("go", "build", "-o", podBin, "./server/cmd/swarmtube")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			podErr = fmt.Errorf("build the pod: %v\n%s", err, out)
		}
	})
	return podBin, podErr
}

// PodBinary is BuildPod for a test, which it fails if the build does.
func PodBinary(t testing.TB) string {
	t.Helper()
	LookPath(t, "go")
	bin, err := BuildPod()
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

// RemoveBuilt removes what BuildPod built.
func RemoveBuilt() {
	if podBin != "" {
		os.RemoveAll(filepath.Dir(podBin))
	}
}
