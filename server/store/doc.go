// Package store opens the pod's embedded database: one bbolt file in the
// data dir holding every piece of metadata (users, tokens, videos, the search
// index, friends, the federation outbox).
//
// Each domain package owns its buckets and writes them inside transactions it
// gets from here, so a multi-step change (a video, its index entries and its
// outbox events) commits or vanishes as one: bbolt fsyncs every commit, so a
// crash loses nothing that was acknowledged. Bucket names in use:
//
//	meta                      store: schema version
//	users, tokens             accounts
//	videos, videos_by_time,
//	videos_by_hash, search,
//	videos_by_origin,
//	videos_by_doc,
//	videos_by_owner,
//	videos_owner_n,
//	videos_local, videos_meta,
//	videos_pending, video_jobs videos
//	fed_friends, fed_ejected,
//	fed_requests              federation
//	fed_outbox, fed_meta      federation/outbox (queues, event sequence)
//
// (Friends' videos live in the videos buckets, marked by their origin.)
//
// The schema version is recorded in meta at creation and checked at every
// open: a newer file than this binary knows is refused rather than
// misread, and an older one passes through Migrations in order.
package store
