//go:build !unix

package datadir

import (
	"errors"
	"os"
)

var errLocked = errors.New("locked")

// lockFile is a no-op where flock(2) is missing: bbolt's own lock on the
// store (with the store's open timeout) is then the only guard.
func lockFile(*os.File) error { return nil }
