package testenv

import (
	"fmt"
	"math/rand/v2"
)

// Aria2ListenPorts is a value for aria2c's --listen-port: a range of 64
// ports below Linux's ephemeral range (32768-60999), at a random place.
// aria2 binds the first free port of the range, so a port taken by
// another process between a free-port probe and aria2's bind (seen on
// the shared test machine: "failed to bind TCP port") no longer fails a
// download.
func Aria2ListenPorts() string {
	base := 10000 + 64*rand.IntN(300)
	return fmt.Sprintf("%d-%d", base, base+63)
}
