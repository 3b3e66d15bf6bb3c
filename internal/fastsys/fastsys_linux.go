//go:build linux

// Package fastsys makes the data path's system calls on descriptors that
// never block (the UDP sockets and the TAP, all O_NONBLOCK; waiting is
// the netpoller's): recvmmsg, sendmmsg, read and writev; and it gives
// the CPU up after a lone packet (YieldAfterLone).
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
	"sync/atomic"
	"syscall"
	"time"

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

// Handing the CPU over after a lone packet. The kernel often wakes a
// packet's receiver (the peer node's thread, ping) on the sender's core,
// and on a machine with few cores it then waits there until the sender
// blocks. ZeroTierOne's sender blocks at once, in its next read or select;
// ztgo's first makes a read that finds nothing, then the Go scheduler
// polls the network without waiting, looks for work to steal and only then
// sleeps in epoll. A sched_yield right after the packet lets the woken
// thread run first: in make perf's pings in turns it took ztgo's median
// from 3–28 µs above ZeroTierOne's to 0–18 µs below (spec/performance.md).
// When nothing waits it returns at once, and a busy node sends batches,
// not lone packets, so it yields rarely.
//
// On a contended CPU the yield is harmful: a CPU-bound program then runs
// its whole slice (milliseconds) before the node's thread runs again, and
// with it the node's next packet. A yield that takes that long turns
// yielding off for a while, twice as long each time it happens again.
//
// ZTGO_YIELD=0 turns it off (to compare).
var yieldLone = os.Getenv("ZTGO_YIELD") != "0"

const (
	// yieldSlow is longer than the woken thread's hop (tens of µs) and
	// shorter than a scheduler slice (0.75 ms and up).
	yieldSlow       = 300 * time.Microsecond
	yieldPause      = 2 * time.Second
	yieldPauseLimit = time.Minute
)

// yielder decides whether to yield; the clock and the system call are
// its fields so that a test can play contention.
type yielder struct {
	now   func() time.Duration // monotonic
	yield func()

	resume atomic.Int64 // now() before which nothing yields
	pause  atomic.Int64 // the pause the next slow yield starts
}

func (y *yielder) afterLone() {
	start := y.now()
	if int64(start) < y.resume.Load() {
		return
	}
	y.yield()
	if y.now()-start < yieldSlow {
		y.pause.Store(int64(yieldPause))
		return
	}
	p := max(time.Duration(y.pause.Load()), yieldPause)
	y.resume.Store(int64(start + p))
	y.pause.Store(int64(min(2*p, yieldPauseLimit)))
}

var (
	epoch = time.Now()
	lone  = &yielder{
		now:   func() time.Duration { return time.Since(epoch) },
		yield: func() { unix.RawSyscall(unix.SYS_SCHED_YIELD, 0, 0, 0) },
	}
)

var lonePackets atomic.Uint64

// YieldAfterLone gives the CPU up, if anything else is waiting for it,
// after a lone packet was handed to the kernel.
func YieldAfterLone() {
	if yieldLone {
		lonePackets.Add(1)
		lone.afterLone()
	}
}

// YieldsOn reports whether YieldAfterLone may give the CPU up.
func YieldsOn() bool { return yieldLone }

// LonePackets is how many lone packets YieldAfterLone was told of (it
// yielded after those its back-off allowed).
func LonePackets() uint64 { return lonePackets.Load() }
