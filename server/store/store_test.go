package store

import (
	"errors"
	"path/filepath"
	"testing"

	bolt "go.etcd.io/bbolt"
)

func TestOpenRecordsAndChecksSchema(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "pod.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Buckets("things"); err != nil {
		t.Fatal(err)
	}
	if err := s.Update(func(tx *bolt.Tx) error {
		return PutJSON(tx.Bucket([]byte("things")), []byte("a"), map[string]int{"n": 1})
	}); err != nil {
		t.Fatal(err)
	}
	s.Close()

	s, err = Open(path)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	var got map[string]int
	if err := s.View(func(tx *bolt.Tx) error {
		return GetJSON(tx.Bucket([]byte("things")), []byte("a"), &got)
	}); err != nil || got["n"] != 1 {
		t.Fatalf("got %v, %v", got, err)
	}
	if err := s.View(func(tx *bolt.Tx) error {
		return GetJSON(tx.Bucket([]byte("things")), []byte("missing"), &got)
	}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing key: %v", err)
	}
	// A file from a newer binary is refused, not misread.
	if err := s.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketMeta).Put(keySchemaVersion, Uint64Key(SchemaVersion+1))
	}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, err := Open(path); !errors.Is(err, ErrSchemaTooNew) {
		t.Fatalf("newer schema: got %v", err)
	}
}

func TestOpenLockedFileFails(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "pod.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := Open(path); err == nil {
		t.Fatal("second open of a locked store succeeded")
	}
}
