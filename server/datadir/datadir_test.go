package datadir

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestAcquire(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "pod", "data")
	l, err := Acquire(dir)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(filepath.Join(dir, LockFile))
	if strings.TrimSpace(string(b)) != strconv.Itoa(os.Getpid()) {
		t.Errorf("lock file holds %q, want our pid %d", b, os.Getpid())
	}
	// flock locks belong to the open file description, so a second open
	// in this process conflicts just as another process would.
	_, err = Acquire(dir)
	var inUse *InUseError
	if !errors.As(err, &inUse) || inUse.PID != os.Getpid() {
		t.Fatalf("second Acquire: %v, want InUseError naming pid %d", err, os.Getpid())
	}
	if want := "is in use by another swarmtube process (pid " + strconv.Itoa(os.Getpid()) + ")"; !strings.Contains(err.Error(), want) {
		t.Errorf("message %q lacks %q", err, want)
	}
	if err := l.Release(); err != nil {
		t.Fatal(err)
	}
	if err := l.Release(); err != nil {
		t.Fatal("second Release:", err)
	}
	l2, err := Acquire(dir)
	if err != nil {
		t.Fatalf("Acquire after Release: %v", err)
	}
	l2.Release()
}

func TestAcquireNotADirectory(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "file")
	os.WriteFile(file, []byte("x"), 0o600)
	for _, dir := range []string{file, filepath.Join(file, "sub")} {
		_, err := Acquire(dir)
		if !errors.Is(err, ErrNotDir) || !strings.Contains(err.Error(), file+" is a file") {
			t.Errorf("Acquire(%s) = %v, want ErrNotDir naming %s", dir, err, file)
		}
	}
}

func TestAcquireNotWritable(t *testing.T) {
	t.Parallel()
	if os.Geteuid() == 0 {
		t.Skip("root writes anywhere; the binary test in server/cmd/swarmtube drops privileges for this case")
	}
	dir := t.TempDir()
	os.Chmod(dir, 0o555)
	t.Cleanup(func() { os.Chmod(dir, 0o755) })
	if _, err := Acquire(dir); !errors.Is(err, ErrNotWritable) {
		t.Fatalf("Acquire(read-only dir) = %v, want ErrNotWritable", err)
	}
}
