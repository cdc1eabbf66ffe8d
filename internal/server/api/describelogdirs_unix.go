//go:build unix

package api

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// diskSpace returns the total and usable bytes of the file system holding
// dir (DescribeLogDirs v4+).
func diskSpace(dir string) (total, usable int64, err error) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return -1, -1, fmt.Errorf("statfs %s: %w", dir, err)
	}
	bs := int64(st.Bsize)
	return int64(st.Blocks) * bs, int64(st.Bavail) * bs, nil
}
