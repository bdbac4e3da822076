package videos

import (
	"bytes"
	"container/heap"
	"crypto/sha1"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"path/filepath"
	"slices"
	"time"
	"unicode/utf8"

	bolt "go.etcd.io/bbolt"
	bbolterrors "go.etcd.io/bbolt/errors"

	"github.com/swarmtube/swarmtube/server/api"
	"github.com/swarmtube/swarmtube/server/ffmpeg"
	"github.com/swarmtube/swarmtube/server/store"
	"github.com/swarmtube/swarmtube/shared/torrentfile"
)

// Buckets owned by this package:
//
//	videos            id → record (JSON)
//	videos_by_time    created (8 bytes, big-endian Unix ns) + id → empty; its
//	                  bucket sequence is the number of videos
//	videos_by_hash    info hash (20 bytes) + id → empty
//	videos_by_origin  origin URL + 0x00 + origin id → id (friends' videos)
//	videos_by_doc     document number (4 bytes) → id
//	videos_by_owner   owner + 0x00 + created (8 bytes) + id → empty (local
//	                  videos: a user's page and feed)
//	videos_owner_n    owner → number of their entries in videos_by_owner
//	                  (8 bytes, big-endian): a user's page total
//	videos_local      id → what a start needs of a local video, in binary
//	                  (see localEntry): a start reads this, not the records
//	videos_meta       "pod_url" → the pod URL every local video was last
//	                  published or relocated under (see relocate)
//	search            word + 0x00 + document number (4 bytes) → flags (1 byte)
//	                  + created (8 bytes); its bucket sequence is the last
//	                  document number handed out
//
// Every video gets a small document number for the index, so a search can
// gather candidates in dense arrays instead of maps (see searcher).
const (
	bucketVideos   = "videos"
	bucketByTime   = "videos_by_time"
	bucketByHash   = "videos_by_hash"
	bucketByOrigin = "videos_by_origin"
	bucketByDoc    = "videos_by_doc"
	bucketByOwner  = "videos_by_owner"
	bucketOwnerN   = "videos_owner_n"
	bucketLocal    = "videos_local"
	bucketMeta     = "videos_meta"
	bucketSearch   = "search"
	// bucketByContent finds local videos by their bytes (contentKey),
	// whatever their names, so a second upload of the same file is told.
	bucketByContent = "videos_by_content"
)

// keyIndex is a secondary index holding at most one entry per video,
// computed from its record. putTx and deleteTx both walk keyIndexes, so an
// index added to the list is written and removed on every path. A counted
// index keeps the number of its entries as its bucket sequence; a grouped
// one keeps, in the bucket grouped names, the number of its entries per
// key prefix up to the first 0x00.
type keyIndex struct {
	bucket  string
	counted bool
	grouped string
	// entry gives rec's key and value in the index; ok false: no entry.
	entry func(rec *record, ih [20]byte) (key, value []byte, ok bool)
}

var keyIndexes = []keyIndex{
	{bucketByTime, true, "", func(rec *record, _ [20]byte) ([]byte, []byte, bool) {
		return timeKey(rec.Video.CreatedAt, rec.Video.ID), nil, true
	}},
	{bucketByHash, false, "", func(rec *record, ih [20]byte) ([]byte, []byte, bool) {
		return hashKey(ih, rec.Video.ID), nil, true
	}},
	{bucketByOrigin, false, "", func(rec *record, _ [20]byte) ([]byte, []byte, bool) {
		return originKey(rec.Origin, rec.OriginID), []byte(rec.Video.ID), rec.Origin != ""
	}},
	{bucketByDoc, false, "", func(rec *record, _ [20]byte) ([]byte, []byte, bool) {
		return binary.BigEndian.AppendUint32(nil, rec.Doc), []byte(rec.Video.ID), true
	}},
	{bucketByOwner, false, bucketOwnerN, func(rec *record, _ [20]byte) ([]byte, []byte, bool) {
		return ownerKey(rec.Video.Owner, rec.Video.CreatedAt, rec.Video.ID), nil, rec.Origin == "" && rec.Video.Owner != ""
	}},
	{bucketLocal, false, "", func(rec *record, ih [20]byte) ([]byte, []byte, bool) {
		return []byte(rec.Video.ID), localEntry{ih, rec.Video.Size, rec.Video.CreatedAt.UnixNano(), rec.Video.Owner, rec.File, rec.lowerEntries()}.append(nil), rec.Origin == ""
	}},
	{bucketByContent, false, "", func(rec *record, _ [20]byte) ([]byte, []byte, bool) {
		c, err := hex.DecodeString(rec.Content)
		return append(c, rec.Video.ID...), nil, err == nil && len(c) == sha1.Size && rec.Origin == ""
	}},
}

// localEntry is what starting the pod needs of a local video: the in-memory
// sets (file names, quota use) and the seeder's registration. Decoding
// 100,000 JSON records took most of a start (issue 20); these are read
// with no allocation but the strings kept.
type localEntry struct {
	infoHash [20]byte
	size     int64 // bytes
	created  int64 // Unix ns
	owner    string
	file     string // under DataDir/videos
	// lower are the lower resolutions (record.Lower): their files and
	// torrents are named by renditionFile and renditionTorrent.
	lower []localRendition
}

// localRendition is a lower resolution in a localEntry.
type localRendition struct {
	infoHash   [20]byte
	resolution int // short side, pixels
}

// append encodes e as: info hash (20 bytes), size and created (8 bytes
// each, big-endian), owner length (uvarint), owner, file, then for each
// lower resolution 0x00 (never in a file name), its info hash and its
// resolution (2 bytes, big-endian). An entry without lower resolutions is
// the format from before the ladder.
func (e localEntry) append(b []byte) []byte {
	b = append(b, e.infoHash[:]...)
	b = binary.BigEndian.AppendUint64(b, uint64(e.size))
	b = binary.BigEndian.AppendUint64(b, uint64(e.created))
	b = binary.AppendUvarint(b, uint64(len(e.owner)))
	b = append(append(b, e.owner...), e.file...)
	for _, r := range e.lower {
		b = append(append(b, 0), r.infoHash[:]...)
		b = binary.BigEndian.AppendUint16(b, uint16(r.resolution))
	}
	return b
}

// lowerEntries lists rec's lower resolutions for its localEntry.
func (r *record) lowerEntries() []localRendition {
	var out []localRendition
	for _, f := range r.Lower {
		var lr localRendition
		if n, err := hex.Decode(lr.infoHash[:], []byte(f.InfoHash)); err != nil || n != 20 {
			continue
		}
		lr.resolution = f.Resolution
		out = append(out, lr)
	}
	return out
}

// parseLocalEntry decodes what append wrote.
func parseLocalEntry(b []byte) (localEntry, error) {
	var e localEntry
	if len(b) < 36 {
		return e, fmt.Errorf("videos: local entry of %d bytes", len(b))
	}
	copy(e.infoHash[:], b)
	e.size = int64(binary.BigEndian.Uint64(b[20:]))
	e.created = int64(binary.BigEndian.Uint64(b[28:]))
	n, w := binary.Uvarint(b[36:])
	if w <= 0 || n > uint64(len(b)-36-w) {
		return e, fmt.Errorf("videos: local entry with a bad owner length")
	}
	rest := b[36+w:]
	e.owner, rest = string(rest[:n]), rest[n:]
	file, lower, _ := bytes.Cut(rest, []byte{0})
	e.file = string(file)
	if len(lower)%23 != 22 && len(lower) != 0 {
		return e, fmt.Errorf("videos: local entry with %d bytes of lower resolutions", len(lower))
	}
	for len(lower) >= 22 {
		e.lower = append(e.lower, localRendition{[20]byte(lower[:20]), int(binary.BigEndian.Uint16(lower[20:22]))})
		lower = lower[min(len(lower), 23):]
	}
	return e, nil
}

// contentKey identifies a file by its bytes alone: SHA-1 over its length and
// piece hashes (which the torrent has computed anyway), unlike the info
// hash, which also covers the file's name.
func contentKey(info torrentfile.Info) string {
	h := sha1.New()
	_ = binary.Write(h, binary.BigEndian, [2]int64{info.Length, info.PieceLength})
	h.Write(info.Pieces)
	return hex.EncodeToString(h.Sum(nil))
}

// Duplicates returns this pod's other videos with exactly the bytes of
// local video id (whatever their names), oldest first; none for a video
// stored before content keys were kept, or a friend's.
func (s *Service) Duplicates(id string) ([]api.VideoRef, error) {
	var out []api.VideoRef
	err := s.st.View(func(tx *bolt.Tx) error {
		rec, err := getTx(tx, id)
		if err != nil {
			return err
		}
		same, err := sameContentTx(tx, rec.Content)
		for _, o := range same {
			if o.Video.ID != id {
				out = append(out, api.VideoRef{ID: o.Video.ID, Name: o.Video.Name, URL: s.cfg.PodURL + "/videos/" + o.Video.ID})
			}
		}
		return err
	})
	return out, err
}

// sameContentTx returns the local videos whose bytes have content key
// content, oldest first.
func sameContentTx(tx *bolt.Tx, content string) ([]*record, error) {
	c, err := hex.DecodeString(content)
	if err != nil || len(c) != sha1.Size {
		return nil, nil
	}
	var out []*record
	cur := tx.Bucket([]byte(bucketByContent)).Cursor()
	for k, _ := cur.Seek(c); k != nil && bytes.HasPrefix(k, c); k, _ = cur.Next() {
		rec, err := getTx(tx, string(k[len(c):]))
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, rec)
	}
	slices.SortFunc(out, func(a, b *record) int { return a.Video.CreatedAt.Compare(b.Video.CreatedAt) })
	return out, nil
}

// putIndexTx writes rec's entry in ix, if it has one.
func (ix keyIndex) putTx(tx *bolt.Tx, rec *record, ih [20]byte) error {
	k, v, ok := ix.entry(rec, ih)
	if !ok {
		return nil
	}
	b := tx.Bucket([]byte(ix.bucket))
	if err := b.Put(k, v); err != nil {
		return fmt.Errorf("videos: index %s: %w", ix.bucket, err)
	}
	if ix.counted {
		if err := b.SetSequence(b.Sequence() + 1); err != nil {
			return fmt.Errorf("videos: count %s: %w", ix.bucket, err)
		}
	}
	return ix.addGroupTx(tx, k, 1)
}

// addGroupTx adds delta to the count of k's group, if ix is grouped.
func (ix keyIndex) addGroupTx(tx *bolt.Tx, k []byte, delta int64) error {
	if ix.grouped == "" {
		return nil
	}
	g := k[:max(bytes.IndexByte(k, 0), 0)]
	b := tx.Bucket([]byte(ix.grouped))
	n := int64(groupCount(b, g)) + delta
	if n <= 0 {
		return b.Delete(g)
	}
	if err := b.Put(g, store.Uint64Key(uint64(n))); err != nil {
		return fmt.Errorf("videos: count %s: %w", ix.grouped, err)
	}
	return nil
}

// groupCount reads a count addGroupTx keeps (0 if none).
func groupCount(b *bolt.Bucket, group []byte) uint64 {
	if v := b.Get(group); len(v) == 8 {
		return binary.BigEndian.Uint64(v)
	}
	return 0
}

// buildGroupsTx counts the entries of ix per group into ix.grouped, for
// stores written before the counts existed: a walk of keys, no record.
func (ix keyIndex) buildGroupsTx(tx *bolt.Tx) error {
	c := tx.Bucket([]byte(ix.bucket)).Cursor()
	for k, _ := c.First(); k != nil; k, _ = c.Next() {
		if err := ix.addGroupTx(tx, k, 1); err != nil {
			return err
		}
	}
	return nil
}

// deleteTx removes rec's entry from ix; an entry that is missing (an index
// built after the record) is not an error and is not counted.
func (ix keyIndex) deleteTx(tx *bolt.Tx, rec *record, ih [20]byte) error {
	k, _, ok := ix.entry(rec, ih)
	if !ok {
		return nil
	}
	b := tx.Bucket([]byte(ix.bucket))
	if !keyExists(b, k) {
		return nil
	}
	if err := b.Delete(k); err != nil {
		return fmt.Errorf("videos: unindex %s: %w", ix.bucket, err)
	}
	if n := b.Sequence(); ix.counted && n > 0 {
		if err := b.SetSequence(n - 1); err != nil {
			return fmt.Errorf("videos: count %s: %w", ix.bucket, err)
		}
	}
	return ix.addGroupTx(tx, k, -1)
}

// Where a search word occurs.
const (
	inName        = 1
	inDescription = 2
)

// record is a video as stored.
type record struct {
	Video api.Video `json:"video"`
	// File is the name of the video under DataDir/videos (local videos).
	File string `json:"file,omitempty"`
	// Origin and OriginID identify a friend's video at its pod.
	Origin   string `json:"origin,omitempty"`
	OriginID string `json:"origin_id,omitempty"`
	// Doc is the video's document number in the search index.
	Doc uint32 `json:"doc"`
	// Probe is what ffprobe found in the uploaded file (local videos, when
	// the pod has ffprobe).
	Probe *ffmpeg.Info `json:"probe,omitempty"`
	// Source is the uploaded file under DataDir/videos while it waits to be
	// transcoded, and Job its key in bucketJobs (pending videos only).
	Source string `json:"source,omitempty"`
	// Images are a local video's images (images.go); nil until its images
	// job ran.
	Images *images `json:"images,omitempty"`
	Job    string  `json:"job,omitempty"`
	// Lower are the video's lower resolutions, best first (Video.Files
	// after the first). A local one's file is renditionFile(id,
	// resolution) under DataDir/videos, its torrent renditionTorrent.
	Lower []api.VideoFile `json:"lower,omitempty"`
	// Content is contentKey of a local video's file (hex; empty for videos
	// stored before it was kept).
	Content string `json:"content,omitempty"`
}

// torrent is one of a record's files: its info hash, and for a local
// video its file name under DataDir/videos and torrent path.
type torrent struct {
	ih          [20]byte
	file        string // "" for a friend's video
	torrentPath string
}

// torrents lists rec's files, best first; torrentDir locates local
// torrents. A lower file with a bad info hash (never written by this pod)
// is skipped.
func (r *record) torrents(torrentDir string) ([]torrent, error) {
	ih, err := r.infoHash()
	if err != nil {
		return nil, err
	}
	local := r.Origin == ""
	out := []torrent{{ih: ih}}
	if local {
		out[0].file, out[0].torrentPath = r.File, filepath.Join(torrentDir, r.Video.ID+".torrent")
	}
	for _, f := range r.Lower {
		var t torrent
		if n, err := hex.Decode(t.ih[:], []byte(f.InfoHash)); err != nil || n != 20 {
			continue
		}
		if local {
			t.file, t.torrentPath = renditionFile(r.Video.ID, f.Resolution), filepath.Join(torrentDir, renditionTorrent(r.Video.ID, f.Resolution))
		}
		out = append(out, t)
	}
	return out, nil
}

// withFiles sets rec.Video.Files from the top-level fields and Lower.
func (r *record) withFiles() *record {
	r.Video.Files = nil
	if r.Video.State == api.StatePublished && r.Video.InfoHash != "" {
		r.Video.Files = append([]api.VideoFile{api.BestFile(r.Video)}, r.Lower...)
	}
	return r
}

func (r *record) infoHash() ([20]byte, error) {
	var ih [20]byte
	if n, err := hex.Decode(ih[:], []byte(r.Video.InfoHash)); err != nil || n != 20 {
		return ih, fmt.Errorf("videos: record %s has a bad info hash %q", r.Video.ID, r.Video.InfoHash)
	}
	return ih, nil
}

func timeKey(t time.Time, id string) []byte {
	ns := t.UnixNano()
	if ns < 0 {
		ns = 0
	}
	return append(store.Uint64Key(uint64(ns)), id...)
}

func hashKey(ih [20]byte, id string) []byte { return append(ih[:], id...) }

func originKey(origin, originID string) []byte { return []byte(origin + "\x00" + originID) }

// ownerKey sorts a user's videos by creation under the prefix owner+0x00
// (usernames never contain 0x00).
func ownerKey(owner string, created time.Time, id string) []byte {
	return append(append([]byte(owner), 0), timeKey(created, id)...)
}

func searchKey(word string, doc uint32) []byte {
	return binary.BigEndian.AppendUint32(append([]byte(word), 0), doc)
}

// indexWords returns the search words of a video with where they occur.
func indexWords(v *api.Video) map[string]byte {
	m := make(map[string]byte)
	for _, w := range words(v.Name, maxVideoTokens) {
		m[w] |= inName
	}
	for _, w := range words(v.Description, maxVideoTokens) {
		if len(m) >= maxVideoTokens {
			break
		}
		m[w] |= inDescription
	}
	return m
}

// putTx inserts rec, which must not exist yet, with all its index entries.
func putTx(tx *bolt.Tx, rec *record) error {
	ih, err := rec.infoHash()
	if err != nil {
		return err
	}
	sb := tx.Bucket([]byte(bucketSearch))
	seq, err := sb.NextSequence()
	if err != nil || seq > math.MaxUint32 {
		return fmt.Errorf("videos: document number %d: %v", seq, err)
	}
	rec.Doc = uint32(seq)
	if err := store.PutJSON(tx.Bucket([]byte(bucketVideos)), []byte(rec.Video.ID), rec); err != nil {
		return err
	}
	for _, ix := range keyIndexes {
		if err := ix.putTx(tx, rec, ih); err != nil {
			return err
		}
	}
	if err := lowerHashesTx(tx, rec, true); err != nil {
		return err
	}
	return indexTx(sb, rec)
}

// lowerHashesTx puts (or deletes) the videos_by_hash entries of rec's
// lower resolutions: every file's info hash is known to the tracker, and
// a start counts them from that index (loadTx).
func lowerHashesTx(tx *bolt.Tx, rec *record, put bool) error {
	b := tx.Bucket([]byte(bucketByHash))
	for _, f := range rec.Lower {
		var ih [20]byte
		if n, err := hex.Decode(ih[:], []byte(f.InfoHash)); err != nil || n != 20 {
			continue
		}
		var err error
		if put {
			err = b.Put(hashKey(ih, rec.Video.ID), nil)
		} else {
			err = b.Delete(hashKey(ih, rec.Video.ID))
		}
		if err != nil {
			return fmt.Errorf("videos: index %s: %w", bucketByHash, err)
		}
	}
	return nil
}

// indexTx writes the search entries of rec (whose Doc is set) into sb.
func indexTx(sb *bolt.Bucket, rec *record) error {
	created := uint64(max(rec.Video.CreatedAt.UnixNano(), 0))
	for w, flags := range indexWords(&rec.Video) {
		// bbolt keeps the value slice until commit: one per entry.
		val := binary.BigEndian.AppendUint64([]byte{flags}, created)
		if err := sb.Put(searchKey(w, rec.Doc), val); err != nil {
			return fmt.Errorf("videos: index words: %w", err)
		}
	}
	return nil
}

// rebuildSearchTx replaces the whole search index with entries computed by
// the current folding, keeping every video's document number and the
// bucket's sequence (the last number handed out). It runs when a store
// migration asked for it (store.IndexSearch): entries written under other
// folding rules would never match a query again, nor be found to delete.
func rebuildSearchTx(tx *bolt.Tx) (int, error) {
	seq := tx.Bucket([]byte(bucketSearch)).Sequence()
	if err := tx.DeleteBucket([]byte(bucketSearch)); err != nil {
		return 0, fmt.Errorf("videos: drop search index: %w", err)
	}
	sb, err := tx.CreateBucket([]byte(bucketSearch))
	if err != nil {
		return 0, fmt.Errorf("videos: create search index: %w", err)
	}
	if err := sb.SetSequence(seq); err != nil {
		return 0, fmt.Errorf("videos: search index sequence: %w", err)
	}
	n := 0
	err = tx.Bucket([]byte(bucketVideos)).ForEach(func(k, _ []byte) error {
		rec, err := getTx(tx, string(k))
		if err != nil {
			return err
		}
		n++
		return indexTx(sb, rec)
	})
	if err != nil {
		return 0, err
	}
	return n, store.DoneRebuild(tx, store.IndexSearch)
}

// deleteTx removes rec and all its index entries.
func deleteTx(tx *bolt.Tx, rec *record) error {
	ih, err := rec.infoHash()
	if err != nil {
		return err
	}
	id := rec.Video.ID
	if err := tx.Bucket([]byte(bucketVideos)).Delete([]byte(id)); err != nil {
		return fmt.Errorf("videos: delete %s: %w", id, err)
	}
	for _, ix := range keyIndexes {
		if err := ix.deleteTx(tx, rec, ih); err != nil {
			return err
		}
	}
	if err := lowerHashesTx(tx, rec, false); err != nil {
		return err
	}
	sb := tx.Bucket([]byte(bucketSearch))
	for w := range indexWords(&rec.Video) {
		if err := sb.Delete(searchKey(w, rec.Doc)); err != nil {
			return fmt.Errorf("videos: unindex words: %w", err)
		}
	}
	return nil
}

// keyExists reports whether key is present (Get returns nil for empty values too).
func keyExists(b *bolt.Bucket, key []byte) bool {
	k, _ := b.Cursor().Seek(key)
	return bytes.Equal(k, key)
}

func getTx(tx *bolt.Tx, id string) (*record, error) {
	var rec record
	if err := store.GetJSON(tx.Bucket([]byte(bucketVideos)), []byte(id), &rec); err != nil {
		return nil, err
	}
	if rec.Video.State == "" { // stored before the pipeline had states
		rec.Video.State = api.StatePublished
	}
	return rec.withFiles(), nil
}

// listTx returns count videos, newest first, after skipping start, and the
// total number of videos.
func listTx(tx *bolt.Tx, start, count int) ([]api.Video, int, error) {
	bt := tx.Bucket([]byte(bucketByTime))
	total := int(bt.Sequence())
	out := []api.Video{}
	for _, k := range pageKeys(bt.Cursor(), nil, total, start, count) {
		rec, err := getTx(tx, string(k[8:]))
		if err != nil {
			return nil, 0, fmt.Errorf("videos: list: %s: %w", k[8:], err)
		}
		out = append(out, rec.Video)
	}
	return out, total, nil
}

// listOwnerTx returns count of owner's local videos, newest first, after
// skipping start, and how many there are (from videos_owner_n, not a walk).
func listOwnerTx(tx *bolt.Tx, owner string, start, count int) ([]api.Video, int, error) {
	prefix := append([]byte(owner), 0)
	total := int(groupCount(tx.Bucket([]byte(bucketOwnerN)), []byte(owner)))
	out := []api.Video{}
	for _, k := range pageKeys(tx.Bucket([]byte(bucketByOwner)).Cursor(), prefix, total, start, count) {
		id := string(k[len(prefix)+8:])
		rec, err := getTx(tx, id)
		if err != nil {
			return nil, 0, fmt.Errorf("videos: list %s: %s: %w", owner, id, err)
		}
		out = append(out, rec.Video)
	}
	return out, total, nil
}

// pageKeys returns the keys ranked [start, start+count) among the total
// keys with prefix, last key first (newest first, for time-ordered keys).
// It walks from the nearer end of the range, so a page costs the page plus
// min(start, total-start) key steps, no record decoded: the last pages
// are as cheap as the first. The keys are valid during c's transaction.
func pageKeys(c *bolt.Cursor, prefix []byte, total, start, count int) [][]byte {
	end := min(start+count, total) // exclusive
	if start >= end {
		return nil
	}
	keys := make([][]byte, 0, end-start)
	if start <= total-end {
		// The last key with prefix: seek past the prefix, step back.
		var k []byte
		if after := nextPrefix(prefix); after != nil {
			if k, _ = c.Seek(after); k != nil {
				k, _ = c.Prev()
			} else {
				k, _ = c.Last()
			}
		} else {
			k, _ = c.Last()
		}
		for i := 0; k != nil && bytes.HasPrefix(k, prefix) && i < end; i, k = i+1, prevKey(c) {
			if i >= start {
				keys = append(keys, k)
			}
		}
		return keys
	}
	// From the first key: rank r (last first) is position total-1-r.
	k, _ := c.Seek(prefix)
	for i := 0; k != nil && bytes.HasPrefix(k, prefix) && i < total-start; i, k = i+1, nextKey(c) {
		if i >= total-end {
			keys = append(keys, k)
		}
	}
	slices.Reverse(keys)
	return keys
}

func prevKey(c *bolt.Cursor) []byte { k, _ := c.Prev(); return k }
func nextKey(c *bolt.Cursor) []byte { k, _ := c.Next(); return k }

// nextPrefix returns the least key above every key with prefix, nil if
// there is none (empty prefix, or all 0xff).
func nextPrefix(prefix []byte) []byte {
	p := bytes.Clone(prefix)
	for i := len(p) - 1; i >= 0; i-- {
		if p[i] < 0xff {
			p[i]++
			return p[:i+1]
		}
	}
	return nil
}

// buildIndexesTx fills the key indexes named in missing from the
// videos, for stores written before those indexes existed.
func buildIndexesTx(tx *bolt.Tx, missing []string) (int, error) {
	var build []keyIndex
	for _, ix := range keyIndexes {
		if !slices.Contains(missing, ix.bucket) {
			continue
		}
		build = append(build, ix)
		if ix.grouped == "" {
			continue
		}
		// Counts left without their index start again from zero.
		if err := tx.DeleteBucket([]byte(ix.grouped)); err != nil && !errors.Is(err, bbolterrors.ErrBucketNotFound) {
			return 0, fmt.Errorf("videos: reset %s: %w", ix.grouped, err)
		}
		if _, err := tx.CreateBucket([]byte(ix.grouped)); err != nil {
			return 0, fmt.Errorf("videos: reset %s: %w", ix.grouped, err)
		}
	}
	n := 0
	err := tx.Bucket([]byte(bucketVideos)).ForEach(func(k, _ []byte) error {
		rec, err := getTx(tx, string(k))
		if err != nil {
			return err
		}
		ih, err := rec.infoHash()
		if err != nil {
			return err
		}
		n++
		for _, ix := range build {
			if err := ix.putTx(tx, rec, ih); err != nil {
				return err
			}
		}
		return nil
	})
	return n, err
}

// searcher gathers search candidates in arrays indexed by document
// number, reused across queries through a pool: a query touching 100,000
// index entries then costs no allocation per entry.
type searcher struct {
	name, any []uint8 // bit i: query term i matched the name / anywhere
	created   []int64
	touched   []uint32 // documents with a non-zero any, to reset and rank
}

func (sc *searcher) grow(n int) {
	if len(sc.any) < n {
		n = max(n, 2*len(sc.any))
		sc.name = make([]uint8, n)
		sc.any = make([]uint8, n)
		sc.created = make([]int64, n)
	}
}

func (sc *searcher) reset() {
	for _, d := range sc.touched {
		sc.name[d], sc.any[d] = 0, 0
	}
	sc.touched = sc.touched[:0]
}

// rank computes the ranking key of document d: terms matched in the name,
// then terms matched anywhere, then creation time (ms), most significant
// first, so ranking compares one integer (ties: the newer document number).
func (sc *searcher) rank(d uint32) uint64 {
	ms := uint64(max(sc.created[d], 0)/int64(time.Millisecond)) & (1<<56 - 1)
	return uint64(bits.OnesCount8(sc.name[d]))<<60 | uint64(bits.OnesCount8(sc.any[d]))<<56 | ms
}

// scored is a document and its ranking key.
type scored struct {
	key uint64
	doc uint32
}

func (a scored) better(b scored) bool { return a.key > b.key || (a.key == b.key && a.doc > b.doc) }

// worstFirst is a heap whose root is the worst document, to keep the best k.
type worstFirst []scored

func (h worstFirst) Len() int           { return len(h) }
func (h worstFirst) Less(i, j int) bool { return h[j].better(h[i]) }
func (h worstFirst) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *worstFirst) Push(x any)        { *h = append(*h, x.(scored)) }
func (h *worstFirst) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// queryTerms turns a search text into at most maxQueryTerms distinct words.
func queryTerms(q string) []string { return words(q, maxQueryTerms) }

// search finds videos matching any of terms by word prefix (whole words
// for terms shorter than minPrefixRunes), ranked by better, and returns
// the page [start, start+count) and the number of matching videos.
func (sc *searcher) search(tx *bolt.Tx, terms []string, start, count int) ([]api.Video, int, error) {
	if len(terms) == 0 {
		return []api.Video{}, 0, nil
	}
	sb := tx.Bucket([]byte(bucketSearch))
	sc.grow(int(sb.Sequence()) + 1)
	defer sc.reset()
	c := sb.Cursor()
	for i, term := range terms {
		bit := uint8(1) << i
		prefix := []byte(term)
		exact := utf8.RuneCountInString(term) < minPrefixRunes
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			// k is word, 0x00, document number (4 bytes).
			if len(k) < len(prefix)+5 || k[len(k)-5] != 0 || len(v) != 9 || (exact && len(k) != len(prefix)+5) {
				continue
			}
			d := binary.BigEndian.Uint32(k[len(k)-4:])
			if int(d) >= len(sc.any) {
				continue // cannot happen: numbers come from the sequence
			}
			if sc.any[d] == 0 {
				sc.touched = append(sc.touched, d)
				sc.created[d] = int64(binary.BigEndian.Uint64(v[1:]))
			}
			sc.any[d] |= bit
			if v[0]&inName != 0 {
				sc.name[d] |= bit
			}
		}
	}
	total := len(sc.touched)
	if start >= total {
		return []api.Video{}, total, nil
	}
	keep := start + count
	best := make(worstFirst, 0, min(keep, total))
	for _, d := range sc.touched {
		c := scored{sc.rank(d), d}
		switch {
		case len(best) < keep:
			heap.Push(&best, c)
		case c.better(best[0]):
			best[0] = c
			heap.Fix(&best, 0)
		}
	}
	ranked := make([]scored, len(best))
	for i := len(ranked) - 1; i >= 0; i-- {
		ranked[i] = heap.Pop(&best).(scored)
	}
	out := make([]api.Video, 0, count)
	byDoc := tx.Bucket([]byte(bucketByDoc))
	for _, c := range ranked[start:] {
		d := c.doc
		id := byDoc.Get(binary.BigEndian.AppendUint32(nil, d))
		rec, err := getTx(tx, string(id))
		if err != nil {
			return nil, 0, fmt.Errorf("videos: search: document %d (%q): %w", d, id, err)
		}
		out = append(out, rec.Video)
	}
	return out, total, nil
}
