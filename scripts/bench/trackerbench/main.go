// Command trackerbench serves the pod's tracker (server/tracker) alone on a
// loopback address for scripts/bench/tracker.sh: open policy, no per-IP or
// rate limits (the load generator is one IP sending as fast as it can).
//
// usage: trackerbench -listen 127.0.0.1:8000
package main

import (
	"context"
	"errors"
	"flag"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"
	"time"

	"github.com/swarmtube/swarmtube/server/tracker"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:8000", "address to serve on (loopback)")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile to this file")
	flag.Parse()
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err == nil {
			_ = pprof.StartCPUProfile(f)
			defer pprof.StopCPUProfile()
		}
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	if err := run(*listen, log); err != nil {
		log.Error("trackerbench", "err", err)
		pprof.StopCPUProfile()
		os.Exit(1)
	}
}

func run(listen string, log *slog.Logger) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	s, err := tracker.New(tracker.Config{AnnouncesPerSecond: -1, MaxConnsPerIP: -1, MaxQueuedBytes: 8 << 20}, log, nil)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle("GET /tracker/socket", s.WebSocketHandler())
	mux.Handle("GET /tracker/announce", s.AnnounceHandler())
	mux.Handle("GET /tracker/scrape", s.ScrapeHandler())
	hs := &http.Server{Addr: listen, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = s.Run(ctx) }()
	errc := make(chan error, 1)
	// No TCP keep-alive probes on accepted connections, as the pod's
	// listener (server/pod): they cost four setsockopt calls per accept,
	// ~12% of the CPU of a no-keep-alive HTTP announce. The tracker turns
	// them on for WebSockets itself.
	lc := net.ListenConfig{KeepAlive: -1}
	ln, err := lc.Listen(ctx, "tcp", listen)
	if err != nil {
		return err
	}
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err = hs.Shutdown(sctx)
	s.Close()
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}
