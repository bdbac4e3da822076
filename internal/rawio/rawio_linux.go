package rawio

import (
	"errors"
	"net"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Read reads from the non-blocking descriptor fd.
func Read(fd int, p []byte) (int, error) { return readWrite(unix.SYS_READ, fd, p) }

// Write writes to the non-blocking descriptor fd.
func Write(fd int, p []byte) (int, error) { return readWrite(unix.SYS_WRITE, fd, p) }

func readWrite(trap uintptr, fd int, p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	n, _, e := unix.RawSyscall(trap, uintptr(fd), uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}

// EpollPoll returns the ready events of epfd without waiting.
func EpollPoll(epfd int, events []unix.EpollEvent) (int, error) {
	if len(events) == 0 {
		return 0, nil
	}
	n, _, e := unix.RawSyscall6(unix.SYS_EPOLL_PWAIT, uintptr(epfd), uintptr(unsafe.Pointer(&events[0])), uintptr(len(events)), 0, 0, 0)
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}

// DupNonblock returns a non-blocking, close-on-exec duplicate of tc's
// socket, for an event loop to own: once the caller closes tc (which takes
// it out of Go's poller), the socket lives on through the duplicate.
func DupNonblock(tc *net.TCPConn) (int, error) {
	raw, err := tc.SyscallConn()
	if err != nil {
		return -1, err
	}
	fd := -1
	// F_DUPFD_CLOEXEC: a child process started meanwhile must not inherit it.
	cerr := raw.Control(func(s uintptr) { fd, err = unix.FcntlInt(s, unix.F_DUPFD_CLOEXEC, 0) })
	if err = errors.Join(cerr, err); err != nil {
		return -1, err
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}
