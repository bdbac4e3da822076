package store

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
)

// SchemaVersion is the layout this binary reads and writes.
//
//	1  first layout
//	2  search words folded by shared/textfold (NFKD, marks dropped, a table
//	   for letters without decomposition): the search index is rebuilt
const SchemaVersion = 2

var (
	bucketMeta       = []byte("meta")
	keySchemaVersion = []byte("schema_version")
)

// ErrNotFound is returned by Get when a key is absent.
var ErrNotFound = errors.New("not found")

// ErrSchemaTooNew means the data dir was written by a newer Swarmtube.
var ErrSchemaTooNew = errors.New("store schema is newer than this binary")

// Migration moves the store from version From to From+1.
type Migration struct {
	From int
	Run  func(tx *bolt.Tx) error
}

// Migrations run in order at open for stores older than SchemaVersion, in
// the transaction that records the new version.
var Migrations = []Migration{
	{From: 1, Run: RequestRebuild(IndexSearch)},
}

// Derived indexes that a migration may ask their owner to rebuild.
const (
	// IndexSearch is server/videos' search index.
	IndexSearch = "search"
)

// keyRebuild prefixes the meta keys that mark an index for rebuilding.
const keyRebuild = "rebuild:"

// RequestRebuild returns a migration step that marks the derived index name
// for rebuilding. The store cannot rebuild what another package derives
// (the search words come from server/videos), so the owner checks
// NeedsRebuild when it opens its buckets and calls DoneRebuild in the
// transaction that rebuilds: a crash in between leaves the mark, and the
// rebuild runs again at the next start.
func RequestRebuild(name string) func(tx *bolt.Tx) error {
	return func(tx *bolt.Tx) error {
		return tx.Bucket(bucketMeta).Put([]byte(keyRebuild+name), []byte{1})
	}
}

// NeedsRebuild reports whether a migration marked index name for rebuilding.
func NeedsRebuild(tx *bolt.Tx, name string) bool {
	return tx.Bucket(bucketMeta).Get([]byte(keyRebuild+name)) != nil
}

// DoneRebuild clears the mark of index name, in the rebuild's transaction.
func DoneRebuild(tx *bolt.Tx, name string) error {
	return tx.Bucket(bucketMeta).Delete([]byte(keyRebuild + name))
}

// Store is the opened database. It is safe for concurrent use.
type Store struct {
	db *bolt.DB
}

// Open opens (creating if needed) the store file at path and checks its
// schema version.
func Open(path string) (*Store, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("store: create dir: %w", err)
	}
	// The timeout turns "another pod holds this data dir" into an error
	// instead of a silent hang.
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 2 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	s := &Store{db: db}
	if err := s.checkSchema(); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

func (s *Store) checkSchema() error {
	return s.db.Update(func(tx *bolt.Tx) error {
		meta, err := tx.CreateBucketIfNotExists(bucketMeta)
		if err != nil {
			return fmt.Errorf("store: meta bucket: %w", err)
		}
		v := meta.Get(keySchemaVersion)
		if v == nil {
			// A new store: every index is built by its owner as it goes.
			return meta.Put(keySchemaVersion, Uint64Key(SchemaVersion))
		}
		if len(v) != 8 {
			return fmt.Errorf("store: corrupt schema version %x", v)
		}
		have := int(binary.BigEndian.Uint64(v))
		if have > SchemaVersion {
			return fmt.Errorf("store: file has schema %d, binary knows %d: %w", have, SchemaVersion, ErrSchemaTooNew)
		}
		for _, m := range Migrations {
			if m.From >= have && m.From < SchemaVersion {
				if err := m.Run(tx); err != nil {
					return fmt.Errorf("store: migrate from %d: %w", m.From, err)
				}
			}
		}
		return meta.Put(keySchemaVersion, Uint64Key(SchemaVersion))
	})
}

// Update runs fn in a read-write transaction, committed when fn returns nil.
func (s *Store) Update(fn func(tx *bolt.Tx) error) error { return s.db.Update(fn) }

// View runs fn in a read-only transaction.
func (s *Store) View(fn func(tx *bolt.Tx) error) error { return s.db.View(fn) }

// DB exposes the underlying database for packages that need bbolt directly.
func (s *Store) DB() *bolt.DB { return s.db }

// Close closes the database; pending transactions finish first.
func (s *Store) Close() error { return s.db.Close() }

// Buckets creates the named buckets if they do not exist yet. Domain
// packages call it once from their constructors.
func (s *Store) Buckets(names ...string) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		for _, n := range names {
			if _, err := tx.CreateBucketIfNotExists([]byte(n)); err != nil {
				return fmt.Errorf("store: bucket %s: %w", n, err)
			}
		}
		return nil
	})
}

// PutJSON stores v encoded as JSON under key in bucket b.
func PutJSON(b *bolt.Bucket, key []byte, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("store: encode %s: %w", key, err)
	}
	return b.Put(key, data)
}

// GetJSON decodes the JSON value under key in bucket b into v, or returns
// ErrNotFound.
func GetJSON(b *bolt.Bucket, key []byte, v any) error {
	data := b.Get(key)
	if data == nil {
		return ErrNotFound
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("store: decode %s: %w", key, err)
	}
	return nil
}

// DeleteWhere deletes the keys of bucket b that start with prefix (every
// key for a nil prefix) and for which drop reports true, and returns how
// many it deleted. The keys are collected first and deleted after the
// walk, because bbolt forbids writes under a live cursor.
func DeleteWhere(b *bolt.Bucket, prefix []byte, drop func(k, v []byte) bool) (int, error) {
	var keys [][]byte
	c := b.Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		if drop(k, v) {
			keys = append(keys, bytes.Clone(k))
		}
	}
	for _, k := range keys {
		if err := b.Delete(k); err != nil {
			return 0, err
		}
	}
	return len(keys), nil
}

// Uint64Key encodes n big-endian, so keys sort numerically.
func Uint64Key(n uint64) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], n)
	return b[:]
}
