// Command swarmtube runs a Swarmtube pod. See README.md for flags.
//
//	swarmtube [flags]            run a pod
//	swarmtube import [flags] F   upload a video file to a running pod
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/swarmtube/swarmtube/server/config"
	"github.com/swarmtube/swarmtube/server/pod"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "import" {
		if err := runImport(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "swarmtube import:", err)
			os.Exit(1)
		}
		return
	}
	cfg, err := config.Parse(os.Args[1:], config.Getenv)
	if err != nil {
		fmt.Fprintln(os.Stderr, "swarmtube:", err)
		os.Exit(2)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: cfg.LogLevel}))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	p, err := pod.New(cfg, log)
	if err != nil {
		log.Error("start failed", "err", err)
		os.Exit(1)
	}
	if err := p.Run(ctx); err != nil {
		log.Error("pod stopped", "err", err)
		os.Exit(1)
	}
}
