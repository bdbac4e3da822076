// Command seederbench is the Go half of scripts/bench/seeder.sh: it builds a
// .torrent the way the pod does (shared/torrentfile) and runs the pod's
// hybrid seeder (server/seeder) on a file, so the script can time aria2c
// downloading from it against aria2c downloading from another aria2c.
//
//	seederbench torrent -file F -name N -tracker URL -out X.torrent   (prints the info hash)
//	seederbench seed -torrent X.torrent -file F -data DIR
//
// seed prints "ready port=<port>" once seeding and, on SIGINT/SIGTERM,
// "uploaded=<bytes>" before exiting.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/swarmtube/swarmtube/server/seeder"
	"github.com/swarmtube/swarmtube/shared/torrentfile"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: seederbench torrent|seed [flags]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "torrent":
		err = makeTorrent(os.Args[2:])
	case "seed":
		err = seed(os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "seederbench:", err)
		os.Exit(1)
	}
}

func makeTorrent(args []string) error {
	fs := flag.NewFlagSet("torrent", flag.ExitOnError)
	file := fs.String("file", "", "file to hash")
	name := fs.String("name", "bench.mp4", "info.name")
	tracker := fs.String("tracker", "", "HTTP tracker announce URL")
	out := fs.String("out", "", "where to write the .torrent")
	fs.Parse(args)
	f, err := os.Open(*file)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	info, err := torrentfile.HashReader(context.Background(), f, *name, st.Size(), torrentfile.PieceLength(st.Size()), nil)
	if err != nil {
		return err
	}
	b, err := torrentfile.Metainfo{Info: info, AnnounceList: [][]string{{*tracker}}, CreatedBy: "seederbench"}.Bencode()
	if err != nil {
		return err
	}
	ih, err := info.InfoHash()
	if err != nil {
		return err
	}
	fmt.Printf("%x\n", ih) // for the tracker's whitelist
	return os.WriteFile(*out, b, 0o644)
}

func seed(args []string) error {
	fs := flag.NewFlagSet("seed", flag.ExitOnError)
	tf := fs.String("torrent", "", ".torrent file")
	file := fs.String("file", "", "complete file to seed")
	data := fs.String("data", "", "seeder data dir")
	fs.Parse(args)
	tb, err := os.ReadFile(*tf)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	s, err := seeder.New(seeder.Config{DataDir: *data, ListenAddr: "127.0.0.1"}, log, nil)
	if err != nil {
		return err
	}
	defer s.Close()
	if err := s.Seed(ctx, tb, *file); err != nil {
		return err
	}
	fmt.Printf("ready port=%d\n", s.Port())
	<-ctx.Done()
	fmt.Printf("uploaded=%d\n", s.UploadedBytes())
	return nil
}
