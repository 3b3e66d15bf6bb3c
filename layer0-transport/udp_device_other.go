//go:build !linux

package transport

import "syscall"

// bindToDevice does nothing here: the socket is bound to the interface's
// address, which is what 1.14.1 does outside Linux too.
func bindToDevice(syscall.RawConn, string) error { return nil }
