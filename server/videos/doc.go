// Package videos is the pod's video catalogue: uploads (multipart and
// resumable), content checks, MP4 faststart, torrents, the search index,
// listing, removal, and the records of friends' videos.
//
// # Routes
//
// All answers are JSON; errors are {"error": code, "message": text}.
// Authentication is a bearer token or the session cookie (server/accounts).
//
//	POST   /api/v1/videos                 multipart/form-data: file, name, description
//	                                      (upload right) → 201 video
//	GET    /api/v1/videos?start=0&count=20 → {"total", "data": [video]} newest first,
//	                                      local and friends' videos
//	GET    /api/v1/videos/search?q=&start=&count= → same shape, best first
//	GET    /api/v1/videos/{id}            → video
//	PATCH  /api/v1/videos/{id}            {"name"?, "description"?} (owner or admin) → video
//	DELETE /api/v1/videos/{id}            (owner or admin) → 204
//	GET    /api/v1/videos/{id}/torrent    → application/x-bittorrent; a friend's
//	                                      video redirects (302) to its origin's torrent_url
//	GET    /static/images/{name}          → a thumbnail, preview, sprite (image/jpeg) or
//	                                      storyboard (application/json); see Images
//	GET    /api/v1/jobs                   (admin) → api.JobList: the pipeline's jobs (jobstatus.go)
//
// start is 0..1000000 and count 1..100 (default 20); anything else is 400
// invalid_paging. Video ids are 16 characters a-z2-7 for local videos and
// "r" + 16 for friends' videos; a malformed id is 400 invalid_id, an
// unknown one 404 video_not_found.
//
// Upload errors: 400 empty_file, missing_file, invalid_form, invalid_name,
// invalid_description; 413 too_large (above the pod's MaxUploadBytes, see
// max_upload_bytes in GET /api/v1/pod); 415 not_a_video (not MP4, WebM or
// Ogg by content: names are ignored; judged from the first media.SniffLen
// bytes, so a multipart upload is refused as soon as its head has arrived
// and a resumable one by the PATCH that completes its head, which also
// deletes it) or invalid_video (an MP4 whose box structure is broken, or a
// file ffprobe cannot decode); 409 duplicate_video (the same bytes and name are
// already published here). A refused upload leaves nothing on disk.
// Before any byte is taken (see quota.go): 413 quota_exceeded or
// daily_quota_exceeded (the user's quotas, counting their unfinished
// uploads at full length), 403 too_many_uploads (Config.MaxOpenUploads
// unfinished resumable uploads), 507 insufficient_storage (the upload would
// leave less than Config.MinFreeBytes free once every unfinished upload
// completes). A disk that fills anyway answers 507 too. The service
// refuses with the errors of errors.go, which carry no HTTP status; one
// function of the HTTP layer, HTTPError, gives each its status, code and
// words, and every error text then goes through httpx.Public: no path,
// offset or system error is shown.
//
// Names are 1-120 characters, descriptions at most 5000; both must be
// valid UTF-8 without control characters (descriptions may hold line breaks
// and tabs) or invisible direction overrides. Markup is stored as typed:
// pages must escape it. Files on disk are named by the pod (id + extension),
// never by the client.
//
// # Probing and transcoding
//
// With ffmpeg installed (Config.FFmpeg), every upload is probed (package
// server/ffmpeg). A web-playable one is published at once as above (201,
// state "published", the same info hash as the browser computes). Any
// other (HEVC, ProRes, MPEG-4 Part 2, Theora, 10-bit or 4:4:4 H.264,
// rotated, above 1080p, QuickTime, Matroska, AVI, ASF, audio only) is
// answered 202 with state "processing": the file is kept as <id>.source,
// and a pending record plus a job (bucketJobs, keyed by time) commit in one
// transaction. Until published, the video is in bucketPending, not in the
// catalogue, index or federation: GET shows it to its owner and admins only
// (404 to others), with "processing": {"progress", "step"}; DELETE by them
// removes it and stops its job.
//
// Config.TranscodeWorkers workers take jobs oldest first. ffmpeg writes
// .tmp-<id>.mp4, which is synced, checked (media.Prepare: faststart
// already), hashed, its .torrent written, then renamed to <id>.mp4 inside
// the transaction that moves the record into the catalogue (with its index
// entries and federation "add" event) and drops the job; the source goes
// after the commit. A crash at any point leaves the job queued: at the next
// start, the first clean-up removes the partial output (and any file no
// record names), then the job runs again. A job that fails (ffmpeg cannot
// decode the file, or the time limit, Config.TranscodeTimeLimit, passes)
// leaves the video in state "failed" with "failure": a reason in plain
// words; its source is removed.
//
// # Images
//
// Every published local video gets a thumbnail, a preview and a storyboard
// (images.go, made by ffmpeg.Images from the published file) by a
// kindImages job, queued in the transaction that publishes it. Videos
// without images (published before they existed, or while the pod had no
// ffmpeg) are queued by backfillImages, a walk of the catalogue that
// workers take a few steps of whenever the queue is empty, so it never
// holds up a transcode. The job writes into DataDir/images/.tmp-<id>/,
// moves the files to content-addressed names under DataDir/images, and
// commits the record's images and URLs with a federation "update" event;
// a crash leaves the job queued and the files orphans that cleanup
// removes. A video without a picture, or whose frames cannot be decoded,
// records why and is not tried again. GET ImagesPath{name} serves them
// (immutable, ETag, CORS *); a name that is not an image name is 404
// before any file access.
//
// # The resolution ladder
//
// A published video's files (api.Video.Files, best first) are its best
// file (the upload, or its conversion) and the lower resolutions of
// Config.Ladder below it, each made by a kindRendition job and added when
// ready: <id>-<res>p.mp4 with its torrent <id>-<res>p.torrent (ladder.go).
// Every file is its own torrent: seeded, known to the tracker, served by
// the web seed, removed with the video. GET .../{id}/torrent?resolution=N
// serves one file's torrent.
//
// # Resumable uploads (tus 1.0.0)
//
// For large files from the browser, the tus protocol (core, creation,
// creation-with-upload, termination; https://tus.io/protocols/resumable-upload)
// is served at UploadsPath, every request authenticated as above and
// needing the upload right:
//
//	POST   /api/v1/videos/uploads/        create. Headers: Tus-Resumable: 1.0.0,
//	                                      Upload-Length: <bytes> (> 0; above the limit → 413),
//	                                      Upload-Metadata: name <b64>,description <b64>,filename <b64>
//	                                      (all optional here; given ones are validated now, 400;
//	                                      a header outside tus's grammar → 400 invalid_metadata)
//	                                      → 201 with Location: /api/v1/videos/uploads/{uploadID} (a path: tusd's absolute URL would name the scheme the pod saw, http behind a TLS proxy)
//	HEAD   /api/v1/videos/uploads/{uploadID}  → Upload-Offset: bytes received so far
//	PATCH  /api/v1/videos/uploads/{uploadID}  Content-Type: application/offset+octet-stream,
//	                                      Upload-Offset: <current offset>, body: the next bytes
//	                                      → 204 with the new Upload-Offset
//	DELETE /api/v1/videos/uploads/{uploadID}  abandon → 204
//	POST   /api/v1/videos/uploads/{uploadID}/finish  optional JSON {"name","description"}
//	                                      overriding the metadata → 201 video
//
// An upload belongs to the user who created it (403 for anyone else). An
// interrupted PATCH keeps the bytes received; the client asks HEAD for the
// offset and PATCHes on from there. finish answers 409 upload_incomplete
// until every byte has arrived, then runs the same path as a multipart
// upload; if the content is refused the upload is deleted, if only the
// name is bad it is kept so finish can be called again. Uploads nobody
// writes to for Config.UploadExpiry (flag --upload-expiry, 6 h) are
// deleted, checked every quarter of that. X-HTTP-Method-Override is refused.
//
// # What happens to an upload
//
// The container is sniffed from the bytes (shared/media). An MP4 whose
// moov box is after the media data is rewritten with moov first
// (media.PlanFaststart), streaming, while the result is hashed in the same
// pass. The torrent (shared/torrentfile) has info.name =
// torrentfile.FileName(name, container.Ext()) and the piece length
// torrentfile.PieceLength(size), so a browser that applies the same
// faststart to the same file and hashes it with the same name computes the
// same info hash before uploading. Its announce-list is
// [[ws(s)://<pod>/tracker/socket], [<pod>/tracker/announce]] and its
// url-list [<pod>/static/webseed/<id>.<ext>], the file's web seed URL; the
// magnet has the same trackers and the web seed as ws=.
//
// Files are written to a temporary name, synced and renamed, and only then
// is the record committed; a crash in between leaves files that no record
// names, which Run removes. The record, its index entries and the
// federation "add" event commit in one bbolt transaction (Outbox.EnqueueTx
// runs inside it); a removal likewise commits with its "remove" event, then
// seeding stops and the files are deleted.
//
// # Search
//
// Names and descriptions are indexed in the bbolt bucket "search" as
// word + 0x00 + id → (where: name/description, created time), written in
// the same transaction as the video. Words are runs of letters, digits and
// spacing marks after shared/textfold.Fold (NFKD, combining marks removed,
// lower case, and a table for letters without decomposition), the folding
// torrent file names use too: "ELAN" finds "Élan", "strasse" "Straße",
// "lodz" "Łódź", "film" "ﬁlm", "aero" "Ærø". A store whose index was
// written under other folding rules is re-indexed at start (store schema
// 2, store.IndexSearch). Each
// query word (at most 8) matches indexed words it is a prefix of (words of
// one character match only themselves). A video matches when any query word
// does; results are ranked by the number of query words found in the name,
// then found anywhere, then newest first.
//
// # Friends' videos
//
// Federation calls PutRemoteTx, RemoveRemoteTx and DropPodTx inside its own
// transactions; every field from a friend is validated (URLs must be on the
// origin pod, the magnet must carry the info hash, text follows the upload
// rules, future dates are clamped). Known, the tracker's policy, answers
// from an in-memory set of info hashes that commit handlers keep exact.
package videos
