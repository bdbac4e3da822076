package torrentfile_test

import (
	"context"
	"fmt"
	"strings"

	"github.com/swarmtube/swarmtube/shared/torrentfile"
)

// A pod publishes a file as a torrent: hash it into an Info, wrap it with
// trackers and a web seed, and link to it by its info hash.
func Example() {
	data := strings.Repeat("swarmtube ", 100_000) // 1 MB stands for a video
	info, err := torrentfile.HashReader(context.Background(), strings.NewReader(data),
		torrentfile.FileName("A walk by the sea", "mp4"), int64(len(data)), torrentfile.PieceLength(int64(len(data))), nil)
	if err != nil {
		panic(err)
	}
	mi := torrentfile.Metainfo{
		Info:         info,
		AnnounceList: [][]string{{"wss://pod.example/tracker/socket"}, {"https://pod.example/tracker/announce"}},
		URLList:      []string{"https://pod.example/static/webseed/abcdefghijklmnop.mp4"},
	}
	torrent, err := mi.Bencode()
	if err != nil {
		panic(err)
	}

	// A peer parses the .torrent and gets the same info hash.
	parsed, ih, err := torrentfile.Parse(torrent)
	if err != nil {
		panic(err)
	}
	fmt.Println(parsed.Info.Name, parsed.Info.Length, "bytes in", parsed.Info.NumPieces(), "pieces of", parsed.Info.PieceLength)
	fmt.Printf("%x\n", ih)
	fmt.Println(torrentfile.Magnet(ih, parsed.Info.Name, parsed.Info.Length, nil, nil))
	// Output:
	// a-walk-by-the-sea.mp4 1000000 bytes in 4 pieces of 262144
	// db383154a9efbb7888a6fa7816d3795e2b91a2b5
	// magnet:?xt=urn:btih:db383154a9efbb7888a6fa7816d3795e2b91a2b5&dn=a-walk-by-the-sea.mp4&xl=1000000
}
