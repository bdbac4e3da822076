package swarm

import "errors"

var (
	// ErrClosed is returned by operations on a closed Torrent.
	ErrClosed = errors.New("swarm: torrent closed")
	// ErrWrongTorrent is returned by AddConn when the peer's handshake
	// names another info hash.
	ErrWrongTorrent = errors.New("swarm: peer is on another torrent")
	// ErrRejected is returned by AddConn for a peer that is banned, is
	// ourselves, is already connected, or would exceed MaxPeers.
	ErrRejected = errors.New("swarm: peer rejected")
	// ErrBadData is the reason a peer that sent a piece failing its hash
	// is disconnected.
	ErrBadData = errors.New("swarm: peer sent data that failed verification")
	// ErrProtocol is wrapped by errors for peers that break the wire protocol.
	ErrProtocol = errors.New("swarm: protocol violation")

	errShortPiece     = errors.New("stored piece has the wrong size")
	errBadStoredPiece = errors.New("stored piece fails its SHA-1")
)
