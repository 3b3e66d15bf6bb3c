package pagebuf

import "testing"

func TestAllocFree(t *testing.T) {
	for _, n := range []int{1, 4096, 1 << 20} {
		b := Alloc(n)
		if len(b) != n {
			t.Fatalf("Alloc(%d) gave %d bytes", n, len(b))
		}
		for i := range b {
			if b[i] != 0 {
				t.Fatalf("byte %d not zero", i)
			}
		}
		b[0], b[n-1] = 1, 2
		Free(b)
	}
	if Alloc(0) != nil {
		t.Fatal("Alloc(0) not nil")
	}
	Free(nil)
	// Free of a heap slice (the fallback) must not crash.
	Free(make([]byte, 10))
}
