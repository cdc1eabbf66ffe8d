//go:build !unix

package api

// diskSpace is unknown (-1) where statfs is not available.
func diskSpace(dir string) (total, usable int64, err error) { return -1, -1, nil }
