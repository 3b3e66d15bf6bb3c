//go:build linux

// Package fastsys makes the data path's system calls on descriptors that
// never block (the UDP sockets and the TAP, all O_NONBLOCK; waiting is
// the netpoller's): recvmmsg, sendmmsg, read and writev.
//
// They go in as raw system calls, without telling the scheduler. A
// scheduler-aware call (syscall.Syscall) wakes the runtime's monitor
// thread when it sleeps, which it does whenever every P is idle: the first
// call after a pause pays a futex wake-up, and the monitor then polls
// every 20 µs for a while. At one ping every 10 ms that is every packet,
// on a machine with two cores a second thread woken per hop. A raw call
// cannot be handed off while it runs, which does not matter for a call
// that never waits: it is done in microseconds.
//
// ZTGO_RAWSYSCALL=0 goes back to scheduler-aware calls (to compare).
package fastsys

import (
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

var raw = os.Getenv("ZTGO_RAWSYSCALL") != "0"

// Raw reports whether the calls are raw.
func Raw() bool { return raw }

// Syscall is unix.Syscall or unix.RawSyscall, for calls that never block.
func Syscall(trap, a1, a2, a3 uintptr) (uintptr, uintptr, syscall.Errno) {
	if raw {
		return unix.RawSyscall(trap, a1, a2, a3)
	}
	return unix.Syscall(trap, a1, a2, a3)
}

// Syscall6 is unix.Syscall6 or unix.RawSyscall6, for calls that never
// block.
func Syscall6(trap, a1, a2, a3, a4, a5, a6 uintptr) (uintptr, uintptr, syscall.Errno) {
	if raw {
		return unix.RawSyscall6(trap, a1, a2, a3, a4, a5, a6)
	}
	return unix.Syscall6(trap, a1, a2, a3, a4, a5, a6)
}
