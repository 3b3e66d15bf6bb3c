//go:build linux

package fastsys

import (
	"os"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

func TestSyscallBothWays(t *testing.T) {
	defer func(r bool) { raw = r }(raw)
	for _, r := range []bool{true, false} {
		raw = r
		if Raw() != r {
			t.Fatalf("Raw() = %v, want %v", Raw(), r)
		}
		if pid, _, e := Syscall(unix.SYS_GETPID, 0, 0, 0); e != 0 || int(pid) != os.Getpid() {
			t.Fatalf("raw=%v: getpid = %d, %v", r, pid, e)
		}
		var p [2]int32
		if _, _, e := Syscall6(unix.SYS_PIPE2, uintptr(unsafe.Pointer(&p)), unix.O_NONBLOCK|unix.O_CLOEXEC, 0, 0, 0, 0); e != 0 {
			t.Fatalf("raw=%v: pipe2: %v", r, e)
		}
		buf := []byte{0}
		if _, _, e := Syscall(unix.SYS_READ, uintptr(p[0]), uintptr(unsafe.Pointer(&buf[0])), 1); e != unix.EAGAIN {
			t.Fatalf("raw=%v: read of an empty non-blocking pipe: %v, want EAGAIN", r, e)
		}
		unix.Close(int(p[0]))
		unix.Close(int(p[1]))
	}
}

// TestYieldBacksOffWhenContended: a yield that takes a scheduler slice
// stops yielding for a pause that doubles while it keeps happening, and a
// quick one brings the pause back to its start.
func TestYieldBacksOffWhenContended(t *testing.T) {
	var now, took time.Duration
	yields := 0
	y := &yielder{now: func() time.Duration { return now }, yield: func() { yields++; now += took }}
	at := func(when time.Duration, wantYield bool) {
		t.Helper()
		now = when
		before := yields
		y.afterLone()
		if got := yields > before; got != wantYield {
			t.Fatalf("at %v: yielded %v, want %v", when, got, wantYield)
		}
	}
	const s = time.Second
	quick, slow := 20*time.Microsecond, 3*time.Millisecond // the woken peer's hop; a CPU-bound program's slice
	took = quick
	at(0, true)
	at(1*time.Millisecond, true)
	took = slow
	at(10*s, true) // pauses 2 s
	at(11*s, false)
	at(12*s-time.Millisecond, false)
	at(12*s, true) // slow again: pauses 4 s
	at(16*s-time.Millisecond, false)
	at(16*s, true) // 8 s
	at(23*s, false)
	at(24*s, true) // 16 s
	at(40*s, true) // 32 s
	at(72*s, true) // 60 s: the limit
	at(132*s-time.Millisecond, false)
	at(132*s, true) // 60 s still
	at(191*s, false)
	took = quick
	at(192*s, true) // quick: the next slow one pauses 2 s again
	took = slow
	at(193*s, true)
	at(195*s-time.Millisecond, false)
	at(195*s, true)
}
