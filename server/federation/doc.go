// Package federation is the pod's network of friends: introductions and
// catalogue exchange, the durable per-friend outbox of video events and
// its delivery worker, the signed pod-to-pod routes, friend scores and
// ejection, and per-pod rate limits. Message shapes and the signature
// scheme are in server/federation/fedproto.
//
// # Layout
//
// As syncthing keeps lib/protocol apart from its model, federation is in
// layers, each in files of its own:
//
//   - fedproto (server/federation/fedproto): the wire. Message shapes,
//     limits, checks of what a message may say, signature and digest
//     parsing, event kinds. No state.
//   - protocol.go: the protocol layer of the pod-to-pod routes. It
//     authenticates (HTTP Signature through go-fed/httpsig, Digest,
//     Date, Host, replays), limits (token buckets per friend and per
//     client IP, body sizes), decodes, calls the model, and answers; the
//     model's domain errors become the wire's codes in one place
//     (protocolError). It opens no transaction.
//   - model.go: what a verified message does. It applies a batch of
//     events, admits an introduction, forgets a friend that quits, takes
//     a report, and charges scores (charge and chargeTx, the one place a
//     friend loses score and is ejected below ScoreMin). It knows no
//     HTTP and refuses with the domain errors of errors.go.
//   - records.go: the friend, request and tombstone records (the state
//     machine below) and their buckets.
//   - outbox (server/federation/outbox): the durable per-friend queues
//     that local changes write their events into, and the event sequence.
//     A package of its own, made before the catalogue that feeds it and
//     the Service that drains it: videos and mirrors hand their
//     transactions to it, never to federation, and no setter closes the
//     loop. Federation opens a friend's queue when the friend starts to
//     receive events and closes it when it stops (openQueues).
//   - the mirrors (server/mirrors) are made after the catalogue and
//     before the Service, which takes them in Config.Mirrors. They lower
//     a friend's score for a failed check through a func given at their
//     construction (mirrors.Config.Penalize), since an ejection drops
//     the friend's mirrors in turn.
//   - worker.go and client.go: the delivery worker and catalogue paging,
//     and the signed outbound client. friends.go and http.go: the admin
//     operations (makefriends, accept, refuse, quitfriends) and routes.
//
// # Transactions across packages
//
// Every multi-step change is one bbolt transaction, so a crash never
// leaves half of it. The package that owns the change opens the
// transaction. Other packages join it only through a ...Tx method of an
// interface that the opener declares, and inside it they touch only
// their own buckets:
//
//   - videos opens a local change's transaction and joins the outbox
//     (EnqueueTx).
//   - federation opens the transaction of a friend's batch, a catalogue
//     page, a befriending or a removal. It joins the catalogue (Catalog:
//     HasRemoteTx, PutRemoteTx, RemoveRemoteTx, DropPodTx), the mirrors
//     (Mirrors: MirrorTx, VideoArrivedTx, OriginRemovedTx, PodGoneTx) and
//     the outbox's queues (OpenTx, ResetTx, CloseTx, QueueTx).
//   - mirrors opens the transaction of a copy held or dropped and joins
//     the catalogue (SetMirrorTx) and the outbox (EnqueueMirrorTx).
//
// So videos and federation no longer pass transactions both ways: videos
// joins federation's (as its Catalog), and federation never joins videos';
// a local change's events go to the outbox, a package of its own.
//
// No package opens a transaction only to call another's Tx method; such
// a change is the other's service method, with its own transaction
// (videos.SetMirror). Refusals cross as domain errors (a message a
// package will not apply wraps fedproto.ErrInvalid), never as HTTP
// statuses.
//
// # Friend lifecycle
//
// As an admin sees it (the status of GET /api/v1/pods), a pod is pending,
// refused, requested, syncing, active, unreachable or ejected:
//
//	            their Hello, no consent            admin: refuse
//	(none) ──────────────────────────► pending ──────────────────► refused
//	  │  │                                │                           │
//	  │  │                                │ admin: accept             │ admin: accept
//	  │  │ admin: makefriends             ▼                           │
//	  │  └────────────────────────► (introducing) ◄───────────────────┘
//	  │                              │           │
//	  │ their Hello, and             │ Hello 200 │ Hello 202
//	  │ the policy consents          ▼           ▼
//	  └─────────────────────────► syncing ◄──── requested
//	                                 │    their Hello (their admin accepted)
//	                                 │ catalogue paged
//	                                 ▼
//	               ┌───────────────► active
//	  a delivery   │                   │ a delivery fails
//	  succeeds     └────────────── unreachable
//	                                   │ score < ScoreMin (failed deliveries,
//	                                   │ invalid events, bad requests,
//	                                   ▼ other friends' reports)
//	                                ejected: a tombstone; its videos,
//	                                queue and mirror entries are gone
//
// Any friend state goes back to (none) when either side quits (quit,
// quitfriends). A friend is charged whatever its state, so active
// friends can be ejected too, but the usual road is through
// unreachable. An ejected pod may come back only as a new friendship:
// its Hello with this pod's consent, or makefriends, replaces the
// tombstone. Introducing (this pod's Hello under way) is shown as
// syncing.
//
// # Friendship by consent
//
// A friendship needs the consent of both admins. An admin naming a pod
// (makefriends, or --friends) is this pod's consent; accepting a request
// is too. The other pod answers an introduction by its policy
// (--federation-accept): "manual" (the default) keeps every introduction
// it did not ask for as a request until its admin accepts or refuses it,
// "allowlist" accepts pods on --federation-allowlist (URLs, or domains
// with their subdomains) and keeps the others, "open" accepts every pod
// whose key it confirmed (test networks). A pod it asked itself, or
// already a friend, is always accepted: so an admin accepting a request
// simply introduces this pod back, and the requester, which asked
// first, accepts at once. Until both consented, nothing moves: no
// events are queued, no catalogue is paged, and the requester's signed
// requests are refused (403 not_friend).
//
// Inside, one friend record has one state field (friendRecord.State).
// The statuses above derive from it (friendRecord.status): unreachable is
// active with failed deliveries, and pending, refused and ejected are
// records of their own (requests and tombstones):
//
//	             admin: makefriends / accept
//	(none) ─────────────────────────────► introducing ──Hello 202──► requested
//	  │                                        │                         │
//	  │ their Hello, and the policy            │ Hello 200               │ their Hello
//	  │ consents (200)                         ▼                         │ (their admin accepted)
//	  └─────────────────────────────────► syncing ◄──────────────────────┘
//	                                           │ catalogue paged (last page,
//	                                           │ or MaxFriendVideos received)
//	                                           ▼
//	                                        active ──score < ScoreMin──► ejected tombstone
//	                                           │
//	                                           └──quit (either side) / quitfriends──► (none)
//
// Introductions this pod did not consent to live apart, as requests
// (bucket fed_requests; at most MaxRequests wait, more get 503
// too_many_requests, and refusals beyond MaxRequests forget the oldest):
// listed "pending", accepted
// (→ introducing, as above) or refused (listed "refused"; the pod is told
// with a signed quit, and its further Hellos get 403 friendship_refused
// until an admin accepts it or names it). A Hello failing in introducing
// restores the previous state. Records left introducing by a crash are
// paged like syncing ones after 2×HelloTimeout.
//
// Caps (flags): MaxFriends records in any state (64), MaxFriendVideos
// videos kept per friend (50,000; beyond it pages are cut and adding
// events refused), MaxIntroductions friends learnt from one friend's
// answer (20). Introductions an admin asked for run concurrently, each
// within HelloTimeout; learnt ones concurrently, each within IntroTimeout
// (10 s). No lock is held across the network.
//
// # Fetches on someone else's behalf
//
// Confirming an introduction's key, makefriends, learnt introductions and
// deliveries all go through one HTTP client whose dialer refuses
// loopback, private, link-local, multicast, unspecified and other
// non-public addresses after DNS resolution (guard.go), unless
// --federation-allow-private. It follows no redirects and ignores proxy
// settings. The key confirmation of an introduction this pod did not ask
// for is limited per client IP (FetchRate, FetchBurst), and every way it
// can fail (refused address, closed port, silence, not a pod, another
// key) is answered alike: 403 key_unconfirmed with one message, once
// ConfirmTimeout (5 s) has passed, so the answer is no port scanner.
//
// # Admin routes (API.md; bearer token of a user with the admin right)
//
//	POST /api/v1/pods/makefriends {"pods": ["http://host:port", ...]}
//	     → 200 {"friends": [friend...], "requested": ["<pod>"...],
//	            "errors": {"<pod>": "<reason>"}}
//	       introduces this pod to each named pod and to at most
//	       MaxIntroductions friends of each that accepted; requested lists
//	       pods whose admin must still accept; errors lists the pods that
//	       failed and why (unreachable, "no common API version: ...",
//	       refused introduction, not a public address, ...).
//	     → 400 invalid_pods (no usable URL), 502 makefriends_failed (no
//	       named pod could be befriended or asked)
//	POST /api/v1/pods/accept {"pods": [...]} → 200 as makefriends:
//	       accepts pending (or refused) introductions; 404 no_request when
//	       none of the pods asked, 502 accept_failed when none succeeded
//	POST /api/v1/pods/refuse {"pods": [...]} → 204; 404 no_request
//	POST /api/v1/pods/quitfriends → 204: every friend is told, then
//	       forgotten with its videos; requests and tombstones go too
//	GET  /api/v1/pods → 200 {"data": [{"url", "name", "score", "status",
//	       "last_seen", "requested_at", "pending_events", "videos"}]};
//	       status is pending, refused, requested, syncing, active,
//	       unreachable (its last deliveries failed) or ejected
//
// # Pod-to-pod routes
//
// All are POST with a JSON body, signed as server/federation/fedproto describes:
// Signature over "(request-target) host date digest" with the sender's
// RSA key, keyId = the sender's pod URL, Digest listing a SHA-256 of the
// body (other algorithms in the list are ignored), Date within 5
// minutes, Host = the receiver's own URL host. Every body carries a
// random "nonce", so no two requests share a signature. Except for the
// Hello, the signature is verified with the stored key before the body
// is read. Errors are {"error": code, "message": reason}:
//
//	401 bad_signature     Signature missing, malformed, not covering the four
//	                      headers, not rsa-sha256, or not verifying with the key
//	                      stored for keyId
//	401 bad_digest        Digest without a SHA-256 member, or one not matching
//	                      the body
//	401 clock_skew        Date missing or more than 5 minutes off
//	401 wrong_host        signed for another pod
//	401 replayed_request  a signature already received (kept 10 minutes)
//	403 not_friend        keyId is not a friend (any route but hello)
//	403 friendship_pending the friendship with the sender is still being set
//	                      up (introducing or syncing); retry shortly (no penalty)
//	413 too_large         body above the route's limit
//	429 rate_limited      above the per-friend token bucket (Retry-After: 1);
//	                      requests not from a friend share a per-IP bucket
//
// POST /api/v1/federation/hello — the introduction, the only request
// accepted from a pod that is not a friend; at most 64 KiB, read before
// the key is known (videos never travel in it):
//
//	{"nonce", "pod": {"url", "name", "api_versions", "public_key"},
//	 "seq": <sender's last event sequence>}
//
// The signature is checked with the key in the body; unless the receiver
// already holds that key for the URL (a request or a friend), it then
// reads GET <url>/api/v1/pod and requires the same URL and key there
// (403 key_unconfirmed otherwise, see above). No common version in
// api_versions is 400 incompatible_api; a refused pod gets 403
// friendship_refused, a full pod 403 friend_limit, a full request list
// 503 too_many_requests. Then:
//
//	202 {"status": "requested", "pod": {...receiver...}}
//	    kept for the receiver's admin
//	200 {"status": "accepted", "pod": {...}, "seq": <receiver's last event
//	     sequence>, "friends": [<receiver's other active friends' URLs>]}
//	    both are friends (a previous friendship with the sender is
//	    replaced: its videos and the events queued for it give way)
//
// Each side's "seq" is taken in the transaction that starts queuing
// events for the other; each then pages the other's catalogue, which is
// read later, so the pages plus the events after "seq" are exactly the
// catalogue. Until its paging is done a side answers the other's events
// 403 friendship_pending.
//
// POST /api/v1/federation/catalog {"nonce", "after": "<video id>" | ""}
// → 200 {"videos": [video...], "next": "<id>" | ""}: the receiver's own
// videos with ids above "after", in id order, at most 500 and about 2 MiB
// a page; "next" is the last id when more may follow. Served to
// introducing, syncing and active friends.
//
// # Mirror events
//
// A pod that holds a copy of another pod's video (server/mirrors) sends
// its friends, the video's origin included, an event of type "mirror",
// and "unmirror" when it drops the copy, in its own sequence like any
// event: {"origin": <sender>, "seq", "type": "mirror", "mirror":
// {"video_pod", "video_id", "info_hash", "webseed_url", "torrent_url"}},
// both URLs on the sender (fedproto.CheckMirrorRef). The receiver lists
// the sender among the video's mirrors (Mirrors.MirrorTx); a wrong info
// hash is rejected. Events of different senders are not ordered, so a
// mirror event may come before the video it names: it is kept and
// applied when the video arrives (Mirrors.VideoArrivedTx). When a friend
// goes, its mirror entries go with it (Mirrors.PodGoneTx); when an
// origin removes a video, a copy held here is dropped
// (Mirrors.OriginRemovedTx).
//
// # Outbox and delivery
//
// A local change calls outbox.Outbox.EnqueueTx inside its own write
// transaction: the pod's event sequence (bucket fed_meta) is incremented
// and the event is stored under that sequence in every open queue
// (fed_outbox/<friend>: one for each introducing, syncing or active friend),
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
