package trackerproto_test

import (
	"fmt"

	"github.com/swarmtube/swarmtube/shared/trackerproto"
)

// A WebTorrent tracker decodes a browser's announce (one buffer reused for
// every message of a connection) and answers with the swarm's counts.
func Example() {
	msg := []byte(`{"action":"announce","info_hash":"\u0001\u0002\u0003\u0004\u0005\u0006\u0007\u0008\u0009\u000a\u000b\u000c\u000d\u000e\u000f\u0010\u0011\u0012\u0013\u0014",` +
		`"peer_id":"-ST0001-abcdefghijkl","numwant":2,"uploaded":0,"downloaded":0,"left":1000,"event":"started","offers":[]}`)
	var req trackerproto.Request
	if err := trackerproto.DecodeRequest(msg, &req); err != nil {
		fmt.Println("failure reason:", err)
		return
	}
	fmt.Println(req.Action, req.Event, req.InfoHash, req.Left)

	reply := trackerproto.AppendAnnounceReply(nil, req.InfoHash, 1, 3, 120)
	var res trackerproto.Response
	if err := trackerproto.DecodeResponse(reply, &res); err != nil {
		panic(err)
	}
	fmt.Println(res.Action, res.Complete, res.Incomplete, res.Interval)

	// A malformed message gets the reason bittorrent-tracker would send.
	err := trackerproto.DecodeRequest([]byte(`{"action":"announce","info_hash":"short"}`), &req)
	fmt.Println("failure reason:", err)
	// Output:
	// announce started 0102030405060708090a0b0c0d0e0f1011121314 1000
	// announce 1 3 120
	// failure reason: invalid info_hash
}
