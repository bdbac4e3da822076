package rawio

import (
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
