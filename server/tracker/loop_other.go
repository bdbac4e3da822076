//go:build !linux

package tracker

import "net"

// Without epoll every WebSocket is served by its own reader and writer
// goroutines; these stand in for the Linux event loop (loop_linux.go).

type loopState struct{}

type loop struct{}

func (s *Server) attach(*wsConn, net.Conn) error { return nil }
func (s *Server) detach(*wsConn)                 {}
func (s *Server) stopLoops()                     {}
func (l *loop) add(*wsConn, []byte)              {}
func (l *loop) markDirty(*wsConn)                {}
