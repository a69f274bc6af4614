//go:build unix

package proxy

import (
	"errors"
	"net"
	"syscall"
)

// connAlive reports whether an idle keep-alive connection can take a
// request: the backend has not closed it and sent nothing unasked. It peeks
// without blocking, one system call, where net/http's Transport keeps a
// read pending on every idle connection.
func connAlive(c net.Conn) bool {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return true
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	alive := false
	var buf [1]byte
	err = rc.Read(func(fd uintptr) bool {
		for {
			_, _, err := syscall.Recvfrom(int(fd), buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
			if errors.Is(err, syscall.EINTR) {
				continue
			}
			// Nothing to read is the one good answer: end of stream, data
			// or an error each mean the connection is no use.
			alive = errors.Is(err, syscall.EAGAIN) || errors.Is(err, syscall.EWOULDBLOCK)
			return true
		}
	})
	return err == nil && alive
}
