// Package federation is the pod's network of friends: introductions and
// catalogue exchange, the durable per-friend outbox of video events and
// its delivery worker, the signed pod-to-pod routes, friend scores and
// ejection, and per-pod rate limits. Message shapes and the signature
// scheme are in server/federation/fedproto.
//
// # Admin routes (API.md; bearer token of a user with the admin right)
//
//	POST /api/v1/pods/makefriends {"pods": ["http://host:port", ...]}
//	     → 200 {"friends": [friend...], "errors": {"<pod>": "<reason>"}}
//	       introduces this pod to each named pod and to each of their
//	       friends; errors lists the pods that failed and why (unreachable,
//	       "no common API version: ...", refused introduction, ...).
//	     → 400 invalid_pods (no usable URL), 502 makefriends_failed (no
//	       named pod could be befriended; the message lists the reasons)
//	POST /api/v1/pods/quitfriends → 204: every friend is told, then
//	       forgotten with its videos
//	GET  /api/v1/pods → 200 {"data": [{"url", "name", "score", "status",
//	       "last_seen", "pending_events"}]}; status is pending, active,
//	       unreachable (its last deliveries failed) or ejected
//
// # Pod-to-pod routes
//
// All are POST with a JSON body, signed as server/federation/fedproto describes:
// Signature over "(request-target) host date digest" with the sender's
// RSA key, keyId = the sender's pod URL, Digest = SHA-256 of the body,
// Date within 5 minutes, Host = the receiver's own URL host. Every body
// carries a random "nonce", so no two requests share a signature. Errors
// are {"error": code, "message": reason}:
//
//	401 bad_signature     Signature missing, malformed, not covering the four
//	                      headers, not rsa-sha256, or not verifying with the key
//	                      stored for keyId
//	401 bad_digest        Digest missing or not matching the body
//	401 clock_skew        Date missing or more than 5 minutes off
//	401 wrong_host        signed for another pod
//	401 replayed_request  a signature already received (kept 10 minutes)
//	403 not_friend        keyId is not a friend (any route but hello)
//	403 friendship_pending this pod is still finishing its introduction to
//	                      the sender; retry shortly (no penalty)
//	413 too_large         body above the route's limit
//	429 rate_limited      above the per-friend token bucket (Retry-After: 1);
//	                      requests not from a friend share a per-IP bucket
//
// POST /api/v1/federation/hello — the introduction, the only request
// accepted from a pod that is not a friend yet (at most 16 MiB):
//
//	{"nonce", "pod": {"url", "name", "api_versions", "public_key"},
//	 "seq": <sender's last event sequence>, "videos": [video...]}
//
// The signature is checked with the key in the body, and the receiver then
// reads GET <url>/api/v1/pod and requires the same URL and key there
// (403 key_mismatch otherwise, 502 unreachable if it cannot). No common
// version in api_versions is 400 incompatible_api. On success the sender
// is a friend (a previous friendship with it is replaced: its videos and
// the events queued for it give way to this exchange), its videos are
// stored (invalid ones skipped), and the answer is 200
//
//	{"pod": {...receiver...}, "seq": <receiver's last event sequence>,
//	 "friends": [<receiver's other friends' URLs>], "videos": [video...]}
//
// Both "seq" values are taken in the same transaction that starts queuing
// events for the new friend, so the snapshot plus the events that follow
// are exactly the catalogue. The introducing side records the friend as
// pending until the answer is stored, and answers the friend's requests
// 403 friendship_pending meanwhile.
//
// POST /api/v1/federation/events — a batch of the sender's events, in
// sequence order, at most 100 and 2 MiB; an empty batch is a heartbeat:
//
//	{"nonce", "events": [{"origin", "seq", "type": "add"|"update"|"remove",
//	                      "video": {...} | "video_id": "<id on origin>"}]}
//	→ 200 {"last_seq", "applied", "duplicates", "rejected": [{"seq", "reason"}]}
//	→ 409 replayed_event {"error", "message", "last_seq"} when every event was
//	      already applied
//
// The receiver applies the batch in one transaction: events at or below
// the highest sequence it applied from the sender are duplicates (never
// applied twice); events that fail validation (fedproto.CheckEvent: the
// video's id and info hash of fixed format, text bounded, torrent and web
// seed URLs http(s) on the origin's host) are skipped, reported in
// "rejected" and cost the sender score. A store failure is 500 and
// nothing is applied. The sender forgets its queued events up to
// "last_seq" (from a 200 or a 409).
//
// POST /api/v1/federation/quit {"nonce"} → 204: the sender leaves; the
// receiver forgets it, its queue and its videos.
//
// POST /api/v1/federation/eject {"nonce", "pod": "<url>"} → 204: the sender
// ejected pod. The receiver does not eject on hearsay: it lowers that
// friend's score by ReportPenalty (once per reporter and hour) and checks
// it at once, so a healthy pod earns the points back.
//
// # Outbox and delivery
//
// A local change calls EnqueueTx inside its own write transaction: the
// pod's event sequence (bucket fed_meta) is incremented and the event is
// stored under that sequence in every friend's queue (fed_outbox/<friend>),
// so the change and its events commit together. The worker (Run) sends
// each friend with queued events (or no contact for HealthInterval) one
// batch at a time, at most MaxParallel friends at once, reading the queue
// in a read transaction and recording the outcome in a write transaction
// after the request, never holding a transaction over network I/O. A
// failure backs off exponentially from RetryMin to RetryMax (±20 %
// jitter); a restart retries at once; the queue survives restarts and
// crashes. A friend that sends us anything while we are backing off is
// retried at once.
//
// # Scores
//
// A friend starts at 100 (the maximum). Each failed delivery costs
// Penalty (2), each batch with invalid events Penalty, each report by
// another friend ReportPenalty (10); each successful delivery gives
// Reward (1). A 429 or friendship_pending costs nothing. Below ScoreMin
// (default 0) the friend is ejected: forgotten with its queue and videos,
// listed as ejected, and the other friends are told. With the defaults a
// friend unreachable for about three and a half hours is ejected.
package federation
