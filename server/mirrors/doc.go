// Package mirrors makes a pod hold copies of its friends' videos (issue
// 18), so friend pods share each other's load and a video outlives its
// origin.
//
// # Policy
//
// Config.MaxBytes (--mirror-max-gb; 0 turns mirroring off) bounds the
// bytes of mirrored files on disk, those being fetched included.
// Config.Strategy chooses what is mirrored: "most-viewed" and "newest"
// pick friends' published videos by views or by age, largest score
// first, at every policy pass (Config.Interval, and whenever a pick or
// a removal changes things); "manual" mirrors what an admin picks (PUT
// /api/v1/mirrors/{id}, or the admin page). A video that does not fit
// evicts held mirrors less useful than itself (lower score; under manual,
// unpicked ones first), least useful first, but only mirrors held for at
// least Config.MinLifetime (--mirror-min-lifetime, 24 h): the network may
// rely on a mirror for that long. Only the removal of the video at its
// origin (a federation remove event) drops a younger mirror.
//
// # Resolutions
//
// A mirror holds its video's best file first; its lower resolutions (the
// origin's ladder, api.Video.Files after the first) join the record
// (record.Lower) at every policy pass while they fit in the room left
// once every best file is in (grow: most useful mirror first, each
// video's resolutions best first, one that does not fit skipped), and
// are fetched, verified, seeded and served like the best file once that
// is held, each a file of its own (<dir>/<infohash>.<ext>, its own
// .torrent, swarm and web seed). A best file that needs room takes it
// from lower resolutions first, any mirror's, least useful mirror and
// lowest resolution first, whatever their age: the minimum lifetime
// protects a mirror's best file; only then whole mirrors as above. The
// mirror event lists the lower resolutions held (fedproto.MirrorRef.Files)
// and is sent again, in the transaction that changes that set, whenever
// one is held or given up: receivers replace what the pod announced.
//
// # A mirror's life
//
// One record per video in bucket "mirrors", keyed by the video's id on
// this pod, in one of two states:
//
//	        pick / policy                 fetched, verified, seeded
//	(none) ──────────────► wanted ─────────────────────────────────► held
//	                          │  ▲ restart: resume                    │
//	                          │  └────────┘                           │
//	                          └──── drop (evicted, unpicked past ─────┘──► (none)
//	                                min lifetime, removed at origin)
//
// wanted: the .torrent was taken from the origin (or a mirror) and the
// file is being fetched by the pod's anacrolix client (seeder.Fetch:
// swarm peers and the origin's and other mirrors' web seeds, every piece
// SHA-1 checked) into <dir>/<infohash>.part. Nothing of it is served. A
// restart resumes the fetch from the recorded piece completion.
//
// held: the file was synced and renamed to <dir>/<infohash>.<ext>; the
// seeder seeds it on demand in the same swarm (the same info hash), the
// web seed serves it at /static/webseed/<infohash>.<ext>, the pod serves
// the .torrent at its own /api/v1/videos/{id}/torrent (its own trackers
// first, then the origin's; ?resolution=N for a lower resolution it
// holds), and, in the transaction that makes it held,
// a signed "mirror" event is queued for every friend, the origin
// included. The video's record here lists this pod as a mirror too.
//
// Dropping a mirror deletes its record and, for a held one, queues an
// "unmirror" event and takes this pod off the video's mirrors in the
// same transaction; the files go and seeding stops once it committed.
//
// # Health
//
// An origin checks friends' copies of its videos (checkMirrors, at every
// policy pass, mirroring or not): one random piece of each file a copy
// lists (the best file, and each lower resolution of the video) over an
// HTTP range request, SHA-1 against that file's torrent. A failure (no
// answer, no range, bad bytes) costs the mirror's pod score through federation
// (Config.Penalize) and takes the mirror off the video at once (the origin's
// url-list, magnet and video object); it stays suspended, checked at
// every pass, and is listed again once a check passes. The mirror's own
// mirror or unmirror event, or its pod leaving, ends the suspension.
//
// # Events before their video
//
// A friend's mirror or unmirror event for a video not known here yet
// (events of different friends are not ordered) is kept and applied when
// the video arrives (VideoArrivedTx), over the list of mirrors the origin
// sent with it: at most 256 per friend, for 24 h.
//
// # Admin routes (bearer token of an admin)
//
//	GET    /api/v1/mirrors       → 200 {"strategy", "max_bytes", "used_bytes",
//	                                    "min_lifetime" (seconds), "data": [mirror...]}
//	PUT    /api/v1/mirrors/{id}  → 200 mirror: pick a friend's video (manual);
//	                               400 not_remote (this pod's own video),
//	                               404 video_not_found, 409 mirrors_off,
//	                               507 mirror_budget (it does not fit even
//	                               after every evictable mirror)
//	DELETE /api/v1/mirrors/{id}  → 204: unpick; the copy goes once its
//	                               minimum lifetime has passed
//
// A mirror is {"video_id", "name", "pod" (origin), "size", "state"
// (wanted | held), "picked", "added_at", "held_at", "missing" (bytes not
// fetched yet), "lower": [{"resolution", "size", "held"}]}; size and
// missing count its lower resolutions too.
package mirrors
