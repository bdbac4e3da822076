//go:build !linux

package main

import (
	"errors"
	"time"

	"github.com/swarmtube/swarmtube/shared/trackerproto"
)

func runWSEpoll(string, int, []trackerproto.ID, int, int, time.Duration, time.Duration, int) error {
	return errors.New("the epoll driver needs Linux: use -goroutines")
}
