//go:build !unix

package videos

import "errors"

// DiskFree is not implemented on this system: the free-space check is
// skipped (a full disk still answers 507).
func DiskFree(dir string) (int64, error) {
	return 0, errors.New("videos: free disk space is not known on this system")
}
