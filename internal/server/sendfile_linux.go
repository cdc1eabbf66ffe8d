package server

import (
	"errors"
	"io"
	"os"
	"syscall"
)

// errSendfileUnsupported reports that the kernel refused sendfile for this
// pair of descriptors before sending anything; the caller copies instead.
var errSendfileUnsupported = errors.New("sendfile not supported")

// maxSendfileChunk keeps each sendfile call well under the kernel's limit
// (0x7ffff000 bytes) and bounds how long one call holds the connection.
const maxSendfileChunk = 4 << 20

// sendfile sends n bytes of f starting at off to the socket behind raw with
// sendfile(2). The offset is passed explicitly, so the file's shared offset
// is neither used nor moved: other readers of f are not disturbed. The
// file's descriptor is held (RawConn.Control) for the duration, and the
// socket's through RawConn.Write, which waits for writability when the
// kernel says EAGAIN.
func sendfile(raw syscall.RawConn, f *os.File, off int64, n int) (int, error) {
	fraw, err := f.SyscallConn()
	if err != nil {
		return 0, errSendfileUnsupported
	}
	var (
		sent    int
		sendErr error
	)
	ctlErr := fraw.Control(func(infd uintptr) {
		werr := raw.Write(func(outfd uintptr) bool {
			for sent < n {
				m, err := syscall.Sendfile(int(outfd), int(infd), &off, min(n-sent, maxSendfileChunk))
				if m > 0 {
					sent += m
				}
				switch {
				case err == syscall.EINTR:
					continue
				case err == syscall.EAGAIN:
					return false // wait until the socket is writable
				case err == syscall.EINVAL || err == syscall.ENOSYS || err == syscall.EOPNOTSUPP:
					if sent == 0 {
						sendErr = errSendfileUnsupported
					} else {
						sendErr = err
					}
					return true
				case err != nil:
					sendErr = err
					return true
				case m == 0:
					// The file is shorter than the region: the reply's
					// framing can no longer be honoured.
					sendErr = io.ErrUnexpectedEOF
					return true
				}
			}
			return true
		})
		if sendErr == nil {
			sendErr = werr
		}
	})
	if sendErr == nil {
		sendErr = ctlErr
	}
	return sent, sendErr
}
