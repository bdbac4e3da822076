//go:build linux

package rawio

import (
	"io"
	"net"
	"testing"
	"time"

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

// TestDupNonblock checks that the duplicate outlives the closed net.Conn
// and does not block.
func TestDupNonblock(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	server, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	fd, err := DupNonblock(server.(*net.TCPConn))
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	server.Close()
	if _, err := Read(fd, make([]byte, 8)); err != unix.EAGAIN {
		t.Fatalf("read with nothing sent: %v, want EAGAIN", err)
	}
	if flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err != nil || flags&unix.FD_CLOEXEC == 0 {
		t.Fatalf("close-on-exec not set: %#x, %v", flags, err)
	}
	if n, err := Write(fd, []byte("hi")); n != 2 || err != nil {
		t.Fatalf("write: %d, %v", n, err)
	}
	buf := make([]byte, 2)
	_ = client.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(client, buf); err != nil || string(buf) != "hi" {
		t.Fatalf("client read %q, %v", buf, err)
	}
}
