//go:build linux

package rawio

import (
	"testing"

	"golang.org/x/sys/unix"
)

func TestReadWritePoll(t *testing.T) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fds[0])
	defer unix.Close(fds[1])
	epfd, err := unix.EpollCreate1(0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(epfd)
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, fds[1], &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(fds[1])}); err != nil {
		t.Fatal(err)
	}
	events := make([]unix.EpollEvent, 4)
	if n, err := EpollPoll(epfd, events); n != 0 || err != nil {
		t.Fatalf("poll on an empty socket: %d, %v", n, err)
	}
	buf := make([]byte, 16)
	if _, err := Read(fds[1], buf); err != unix.EAGAIN {
		t.Fatalf("read of an empty socket: %v, want EAGAIN", err)
	}
	if n, err := Write(fds[0], []byte("hello")); n != 5 || err != nil {
		t.Fatalf("write: %d, %v", n, err)
	}
	if n, err := EpollPoll(epfd, events); n != 1 || err != nil || events[0].Fd != int32(fds[1]) {
		t.Fatalf("poll: %d, %v, %+v", n, err, events[0])
	}
	if n, err := Read(fds[1], buf); err != nil || string(buf[:n]) != "hello" {
		t.Fatalf("read: %q, %v", buf[:n], err)
	}
	if _, err := Write(-1, []byte("x")); err != unix.EBADF {
		t.Fatalf("write to a bad descriptor: %v", err)
	}
}
