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

func TestRelease(t *testing.T) {
	b := Alloc(1 << 20)
	defer Free(b)
	for i := range b {
		b[i] = 0xaa
	}
	Release(b)
	for i := range b {
		if b[i] != 0 {
			t.Fatalf("byte %d is %#x after Release, want 0", i, b[i])
		}
	}
	b[5] = 1 // still usable
	// A heap slice (the fallback) keeps its contents.
	h := []byte{1, 2, 3}
	Release(h)
	if h[0] != 1 || h[2] != 3 {
		t.Fatal("Release touched a heap slice")
	}
	Release(nil)
}
