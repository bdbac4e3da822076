// Package turn is the pod's embedded STUN and TURN server (RFC 8489, RFC
// 8656), built on github.com/pion/turn/v2, so that browsers behind NATs
// reach each other and the pod's seeder without a third-party service.
//
// # Listeners
//
// One address serves both UDP and TCP (default port 3478). STUN binding
// requests are answered without credentials; TURN allocations need them.
// Relayed addresses are UDP ports on the advertised public IP, taken from
// a configured range or, without one, any free port.
//
// # Credentials
//
// Credentials are short-lived, in the "TURN REST API" scheme
// (draft-uberti-behave-turn-rest-00) that coturn implements as
// use-auth-secret:
//
//	username = "<expiry unix seconds>:<id>"
//	password = base64(HMAC-SHA1(secret, username))
//
// The secret is 32 random bytes kept in the data dir (turn_secret, 0600).
// The server accepts a username until its expiry; the realm is the pod's.
//
// # Budget
//
// Relayed bytes are pod egress, so relaying is capped: every byte relayed
// in either direction (client to peer through the relay socket, peer to
// client through the listener) takes tokens from one total budget
// (Config.MaxBitsPerSecond) and from its allocation's own bucket
// (Config.AllocationBitsPerSecond); datagrams over budget are dropped, as
// a congested router would (blocking would stall the listener's read loop
// for every client). The number of concurrent allocations is capped, in
// total and per client address (UDP allocations plus TCP connections,
// each of which carries at most one allocation), and peers on loopback, link-local, private, multicast and unspecified
// addresses are refused (no relaying into the pod's own networks).
//
// # Metrics
//
//	swarmtube_turn_stun_binding_requests_total   binding requests over UDP
//	swarmtube_turn_allocations_total             allocations created
//	swarmtube_turn_allocations                   allocations open now
//	swarmtube_turn_refused_total{reason}         "auth", "allocation_limit", "ip_limit", "peer_address"
//	swarmtube_turn_relayed_bytes_total{direction} "to_peer", "to_client"
//	swarmtube_turn_dropped_bytes_total           relayed bytes dropped over budget
package turn
