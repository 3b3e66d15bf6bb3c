//go:build linux

package fastsys

import (
	"os"
	"testing"
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
