package tracker

// connState is a WebSocket connection's place in its life. It only ever
// moves forward, so one atomic word replaces the separate "close sent",
// "closing", "killed", "gone" and "finished" flags a connection would
// otherwise need, and any goroutine may read it without a lock. The
// package doc draws the transitions.
//
//   - open: input is handled, output queued.
//   - closeQueued: a close frame is the last thing in the output queue;
//     nothing more is queued, input is read and discarded (so the kernel
//     does not reset the connection and lose our close frame).
//   - draining: the close frame is written and our write side shut; input
//     is discarded until the peer closes or closeLinger passes.
//   - dropping: the connection is to be closed without a goodbye; the
//     driver that owns the socket does it at its next chance.
//   - finished: the socket is closed, the connection has left its swarms and
//     the server (shutdown ran, exactly once).
type connState int32

const (
	stateOpen connState = iota
	stateCloseQueued
	stateDraining
	stateDropping
	stateFinished
)

func (s connState) String() string {
	switch s {
	case stateOpen:
		return "open"
	case stateCloseQueued:
		return "close queued"
	case stateDraining:
		return "draining"
	case stateDropping:
		return "dropping"
	case stateFinished:
		return "finished"
	}
	return "invalid"
}

// state is the connection's current state.
func (c *wsConn) state() connState { return connState(c.st.Load()) }

// advance moves the connection to next if that is forward of where it is,
// and reports whether this call made the move: of several goroutines
// racing to the same state, exactly one wins.
func (c *wsConn) advance(next connState) bool {
	for {
		cur := c.st.Load()
		if connState(cur) >= next {
			return false
		}
		if c.st.CompareAndSwap(cur, int32(next)) {
			return true
		}
	}
}
