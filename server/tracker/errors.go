package tracker

import "errors"

// Failure reasons the tracker sends (their texts go on the wire).
var (
	// ErrNotTracked is the failure for an info hash the Allow policy refuses.
	ErrNotTracked = errors.New("info_hash is not tracked by this pod")
	// ErrInvalidEvent is the failure for an unknown event (bittorrent-tracker's text).
	ErrInvalidEvent = errors.New("invalid event")
	// ErrTooManyOffers is the failure for an announce with more than MaxOffers offers.
	ErrTooManyOffers = errors.New("too many offers")
	// ErrRateLimited is the failure for messages above AnnouncesPerSecond.
	ErrRateLimited = errors.New("too many requests: slow down")
	// ErrTooManySwarms is the failure for a connection joining more than MaxSwarmsPerConn swarms.
	ErrTooManySwarms = errors.New("too many swarms on one connection")
	// ErrInvalidPort is the HTTP failure for a missing or out-of-range port.
	ErrInvalidPort = errors.New("invalid port")
	// ErrClosed is returned by operations on a closed Server.
	ErrClosed = errors.New("tracker: server closed")
)
