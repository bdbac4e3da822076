package store

import (
	"errors"
	"path/filepath"
	"slices"
	"strings"
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

func TestDeleteWhere(t *testing.T) {
	t.Parallel()
	keys := []string{"a\x00p1", "a\x00p2", "ab\x00p1", "b\x00p1"}
	for _, tc := range []struct {
		name   string
		prefix []byte
		drop   func(k, v []byte) bool
		left   []string
	}{
		{"every key", nil, func(_, _ []byte) bool { return true }, nil},
		{"a prefix", []byte("a\x00"), func(_, _ []byte) bool { return true }, []string{"ab\x00p1", "b\x00p1"}},
		{"by value", nil, func(_, v []byte) bool { return string(v) == "p1" }, []string{"a\x00p2"}},
		{"prefix and value", []byte("a"), func(_, v []byte) bool { return string(v) == "p1" }, []string{"a\x00p2", "b\x00p1"}},
		{"nothing matches", []byte("c"), func(_, _ []byte) bool { return true }, keys},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Open(filepath.Join(t.TempDir(), "pod.db"))
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			var left []string
			var n int
			err = s.Update(func(tx *bolt.Tx) error {
				b, err := tx.CreateBucket([]byte("b"))
				if err != nil {
					return err
				}
				for _, k := range keys {
					_, v, _ := strings.Cut(k, "\x00")
					if err := b.Put([]byte(k), []byte(v)); err != nil {
						return err
					}
				}
				if n, err = DeleteWhere(b, tc.prefix, tc.drop); err != nil {
					return err
				}
				return b.ForEach(func(k, _ []byte) error { left = append(left, string(k)); return nil })
			})
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(left, tc.left) || n != len(keys)-len(tc.left) {
				t.Errorf("left %q (deleted %d), want %q", left, n, tc.left)
			}
		})
	}
}
