//go:build unix

package videos

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// DiskFree returns the bytes available to the pod's user on the file
// system holding dir (statfs(2): f_bavail × f_bsize).
func DiskFree(dir string) (int64, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return 0, fmt.Errorf("videos: statfs: %w", err)
	}
	return int64(st.Bavail) * int64(st.Bsize), nil //nolint:unconvert // field types differ by platform
}
