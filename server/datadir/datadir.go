// Package datadir prepares a pod's data directory and holds it for one
// process at a time.
//
// Acquire creates the directory if needed, checks that it is a directory
// this process can write, and takes an exclusive lock on the file
// swarmtube.lock inside it (flock(2) on Unix), writing the holder's process
// id there. The kernel drops the lock when the holder exits, even by
// kill -9, so a stale file never blocks a restart; the pid in it only names
// the holder in the message a second process gets:
//
//	data directory /srv/pod is in use by another swarmtube process (pid 4242): ...
//
// A pod takes the lock before it opens anything else in the directory, and
// so do the offline admin commands, which therefore refuse to run beside a
// live pod.
package datadir

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// LockFile is the name of the lock file inside a data directory.
const LockFile = "swarmtube.lock"

// InUseError says that another process holds the data directory.
type InUseError struct {
	Dir string
	PID int // 0 when the holder has not written its pid (yet)
}

func (e *InUseError) Error() string {
	who := "another swarmtube process"
	if e.PID > 0 {
		who += fmt.Sprintf(" (pid %d)", e.PID)
	}
	return fmt.Sprintf("data directory %s is in use by %s: stop it first, or give this one another --data", e.Dir, who)
}

// ErrNotDir, ErrNotWritable: see Acquire.
var (
	// ErrNotDir means --data, or one of its parents, is not a directory.
	ErrNotDir = errors.New("not a directory")
	// ErrNotWritable means the directory exists but this process may not
	// create files in it.
	ErrNotWritable = errors.New("not writable")
)

// Lock is a held data directory. Release it when done.
type Lock struct {
	f *os.File
}

// Acquire prepares dir (creating it with mode 0700 if missing) and locks
// it. Errors are plain sentences naming the directory and what to do; they
// wrap ErrNotDir, ErrNotWritable or are an *InUseError where those apply.
func Acquire(dir string) (*Lock, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("data directory %s: %w", dir, err)
	}
	if fi, err := os.Stat(abs); err == nil && !fi.IsDir() {
		return nil, fmt.Errorf("data directory %s is a file, %w: give --data a directory (it is created if missing)", abs, ErrNotDir)
	}
	if err := os.MkdirAll(abs, 0o700); err != nil {
		return nil, plain(abs, err)
	}
	path := filepath.Join(abs, LockFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, plain(abs, err)
	}
	// Writable is checked separately: the lock file may exist from before,
	// and opening it proves nothing about creating the store beside it.
	if err := probeWritable(abs); err != nil {
		f.Close()
		return nil, err
	}
	if err := lockFile(f); err != nil {
		pid := readPID(f)
		f.Close()
		if errors.Is(err, errLocked) {
			return nil, &InUseError{Dir: abs, PID: pid}
		}
		return nil, fmt.Errorf("data directory %s: cannot lock %s: %w", abs, LockFile, err)
	}
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return &Lock{f: f}, nil
}

// Release unlocks the directory. It is safe on a nil Lock and idempotent.
func (l *Lock) Release() error {
	if l == nil || l.f == nil {
		return nil
	}
	// The pid is left in the file: clearing it would race with a new
	// holder, and without the lock it names no one.
	err := l.f.Close() // closing the descriptor drops the flock
	l.f = nil
	return err
}

func probeWritable(dir string) error {
	f, err := os.CreateTemp(dir, ".write-probe-*")
	if err != nil {
		return plain(dir, err)
	}
	name := f.Name()
	f.Close()
	return os.Remove(name)
}

// plain turns a file-system error about dir into a sentence with a remedy.
func plain(dir string, err error) error {
	switch {
	case errors.Is(err, syscall.ENOTDIR):
		culprit := dir
		var pe *fs.PathError
		if errors.As(err, &pe) {
			culprit = pe.Path
		}
		// Find the component that is a file.
		for p := culprit; p != filepath.Dir(p); p = filepath.Dir(p) {
			if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
				culprit = p
				break
			}
		}
		return fmt.Errorf("cannot create data directory %s: %s is a file, %w; give --data a directory path", dir, culprit, ErrNotDir)
	case errors.Is(err, fs.ErrPermission), errors.Is(err, syscall.EROFS):
		why := "permission denied"
		if errors.Is(err, syscall.EROFS) {
			why = "read-only file system"
		}
		return fmt.Errorf("data directory %s is %w by this user (uid %d): %s; fix its owner or mode, or choose another --data",
			dir, ErrNotWritable, os.Geteuid(), why)
	case errors.Is(err, syscall.ENOSPC):
		return fmt.Errorf("data directory %s: the disk is full", dir)
	}
	return fmt.Errorf("data directory %s: %w", dir, err)
}

func readPID(f *os.File) int {
	buf := make([]byte, 32)
	n, _ := f.ReadAt(buf, 0)
	pid, err := strconv.Atoi(strings.TrimSpace(string(buf[:n])))
	if err != nil || pid <= 0 {
		return 0
	}
	return pid
}
