// Command swarmtube runs a Swarmtube pod. See README.md for flags.
//
//	swarmtube [flags]            run a pod
//	swarmtube import [flags] F   upload a video file to a running pod
//	swarmtube admin COMMAND ...  account administration on a stopped pod's data dir
//
// Every failure to start ends the process with a non-zero status and one
// line on stderr saying what is wrong and what to do: status 2 for a bad
// flag value (nothing was opened), 1 for anything else.
package main

import (
	"context"
	"errors"
	"flag"
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
			exit("swarmtube", err) // its errors start "import: "
		}
		return
	}
	if len(os.Args) > 1 && os.Args[1] == "admin" {
		if err := runAdmin(os.Args[2:], os.Stdout, config.Getenv); err != nil {
			exit("swarmtube admin", err)
		}
		return
	}
	cfg, err := config.Parse(os.Args[1:], config.Getenv)
	var help *config.Help
	if errors.As(err, &help) {
		fmt.Print(help.Text)
		return
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "swarmtube: %v (swarmtube --help lists the flags)\n", err)
		os.Exit(2)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: cfg.LogLevel}))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	p, err := pod.New(cfg, log)
	if err != nil {
		exit("swarmtube", err)
	}
	if err := p.Run(ctx); err != nil {
		exit("swarmtube: pod stopped", err)
	}
}

// exit prints err as one line and ends the process; -h/--help is not a
// failure.
func exit(prefix string, err error) {
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	fmt.Fprintf(os.Stderr, "%s: %v\n", prefix, err)
	os.Exit(1)
}
