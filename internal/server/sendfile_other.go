//go:build !linux

package server

import (
	"errors"
	"os"
	"syscall"
)

var errSendfileUnsupported = errors.New("sendfile not supported")

// sendfile is only implemented on Linux; elsewhere replies are copied.
func sendfile(syscall.RawConn, *os.File, int64, int) (int, error) {
	return 0, errSendfileUnsupported
}
