package testenv

import (
	"fmt"
	"os"

	"go.uber.org/goleak"
)

// VerifyNoLeaks is a package's TestMain: it runs the tests and then fails
// them if a goroutine outlives them (go.uber.org/goleak), so every Run and
// Close is checked to stop what it started. Ignored are only goroutines
// that libraries leave behind after their own Close, by design:
//   - anacrolix/torrent v1.57.1's WebTorrent TrackerClient.run sleeps a
//     minute after its socket ends before it sees Close;
//   - tusd v2 cancels a request's context GracefulRequestCompletionTimeout
//     after the request ended, from a goroutine of its own.
//
// opts adds package-specific exceptions (see AnacrolixWebRTC).
func VerifyNoLeaks(m goleak.TestingM, opts ...goleak.Option) {
	code := m.Run()
	if code == 0 {
		opts = append(opts,
			goleak.IgnoreAnyFunction("github.com/anacrolix/torrent/webtorrent.(*TrackerClient).run"),
			goleak.IgnoreAnyFunction("github.com/tus/tusd/v2/pkg/handler.newDelayedContext.func1"),
		)
		if err := goleak.Find(opts...); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// AnacrolixWebRTC ignores the pion goroutines of a peer connection that
// anacrolix/torrent's WebTorrent client answered and leaves, after Close,
// to time out in pion's ICE agent. Only for packages whose WebRTC is all
// anacrolix's: it would hide a leaked connection of our own.
var AnacrolixWebRTC = []goleak.Option{
	goleak.IgnoreAnyFunction("github.com/pion/ice/v2.(*Agent).connect"),
	goleak.IgnoreAnyFunction("github.com/pion/ice/v2.(*Agent).connectivityChecks"),
	goleak.IgnoreAnyFunction("github.com/pion/ice/v2.(*Agent).taskLoop"),
	goleak.IgnoreAnyFunction("github.com/pion/ice/v2.(*candidateBase).recvLoop"),
	goleak.IgnoreAnyFunction("github.com/pion/mdns.(*Conn).start"),
	// The agent's context, whose parent is pion's own Context type.
	goleak.IgnoreTopFunction("context.(*cancelCtx).propagateCancel.func2"),
}
