package engine_test

import (
	"context"
	"fmt"
	"strings"

	"github.com/swarmtube/swarmtube/shared/torrentfile"
	"github.com/swarmtube/swarmtube/wasm/engine"
)

// A Session streams one torrent: the player reads byte ranges and the
// swarm fetches the pieces under them (from WebRTC peers found through the
// torrent's trackers, else its web seed). This one seeds a complete file
// (Options.Source) and has no trackers, so it reads its own pieces.
func Example() {
	data := strings.Repeat("swarmtube ", 100_000)
	info, err := torrentfile.HashReader(context.Background(), strings.NewReader(data), "clip.mp4",
		int64(len(data)), torrentfile.PieceLength(int64(len(data))), nil)
	if err != nil {
		panic(err)
	}
	ih, _ := info.InfoHash()
	s, err := engine.Start(torrentfile.Metainfo{Info: info}, ih, engine.Options{Source: strings.NewReader(data)})
	if err != nil {
		panic(err)
	}
	defer s.Close()

	buf := make([]byte, 20)
	n, err := s.Torrent.ReadAt(context.Background(), "player", buf, 500_000)
	fmt.Printf("%q %v\n", buf[:n], err)
	fmt.Println(s.Torrent.Complete())
	// Output:
	// "swarmtube swarmtube " <nil>
	// true
}
