//go:build linux

package transport

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// bindToDevice ties a socket to an interface before it is bound, so its
// datagrams leave through that link whatever the routes say (routes a
// ZeroTier network installs included).
func bindToDevice(raw syscall.RawConn, ifname string) error {
	var serr error
	if err := raw.Control(func(fd uintptr) { serr = unix.BindToDevice(int(fd), ifname) }); err != nil {
		return err
	}
	return serr
}
