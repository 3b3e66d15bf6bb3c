package lz4

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/ztgo/ztgo/internal/testutil"
)

// TestZeroTierVector checks the block 1.14.1 (LZ4 1.7.5) produced for a
// USER_MESSAGE payload.
func TestZeroTierVector(t *testing.T) {
	var v struct {
		Uncompressed string `json:"uncompressed_packet"`
		Compressed   string `json:"compressed_packet"`
	}
	testutil.Vectors(t, "lz4.json", &v)
	src := testutil.Hex(t, v.Uncompressed)[28:]
	want := testutil.Hex(t, v.Compressed)[28:]
	dst := make([]byte, CompressBound(len(src)))
	n := CompressBlock(dst, src)
	if !bytes.Equal(dst[:n], want) {
		t.Fatalf("compressed\n got %x\nwant %x", dst[:n], want)
	}
	out := make([]byte, len(src))
	if m, err := DecompressBlock(out, want); err != nil || !bytes.Equal(out[:m], src) {
		t.Fatalf("decompress: %v", err)
	}
}

func inputs() map[string][]byte {
	r := rand.New(rand.NewPCG(9, 10))
	random := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(r.UintN(256))
		}
		return b
	}
	text := bytes.Repeat([]byte("ZeroTier virtual Ethernet over UDP 9993; "), 250)
	runs := append(bytes.Repeat([]byte{0}, 5000), random(300)...)
	runs = append(runs, bytes.Repeat([]byte{7}, 600)...)
	mixed := random(4000)
	copy(mixed[2000:], mixed[100:1900])
	m := map[string][]byte{
		"one":          {1},
		"twelve":       random(12),
		"thirteen":     bytes.Repeat([]byte{1}, 13),
		"text":         text,
		"runs":         runs,
		"random":       random(10024),
		"mixed":        mixed,
		"long-literal": append(random(700), bytes.Repeat([]byte{3}, 100)...),
	}
	for _, n := range []int{14, 15, 16, 17, 20, 64, 65, 100, 1400, 2800, 9996} {
		b := random(n)
		for i := 0; i+8 < n; i += 16 {
			copy(b[i+8:], b[i:i+4])
		}
		m["patterned-"+string(rune('a'+n%26))+itoa(n)] = b
	}
	return m
}

func itoa(n int) string { return string(appendInt(nil, n)) }
func appendInt(b []byte, n int) []byte {
	if n >= 10 {
		b = appendInt(b, n/10)
	}
	return append(b, byte('0'+n%10))
}

func TestRoundTrip(t *testing.T) {
	for name, src := range inputs() {
		dst := make([]byte, CompressBound(len(src)))
		n := CompressBlock(dst, src)
		if n == 0 {
			t.Fatalf("%s: compress returned 0", name)
		}
		out := make([]byte, len(src))
		m, err := DecompressBlock(out, dst[:n])
		if err != nil || !bytes.Equal(out[:m], src) {
			t.Fatalf("%s (%d bytes → %d): round trip failed: %v", name, len(src), n, err)
		}
		// One byte too little room must fail, not overflow.
		if len(src) > 1 {
			if _, err := DecompressBlock(out[:len(src)-1], dst[:n]); err == nil {
				t.Fatalf("%s: fitted into a smaller buffer", name)
			}
		}
		for cut := 0; cut < n; cut++ {
			if m, err := DecompressBlock(out, dst[:cut]); err == nil && bytes.Equal(out[:m], src) {
				t.Fatalf("%s: truncated block at %d reproduced the input", name, cut)
			}
		}
	}
}

func TestCompressRefuses(t *testing.T) {
	if CompressBlock(make([]byte, 100), nil) != 0 {
		t.Error("empty input")
	}
	if CompressBlock(make([]byte, 10), make([]byte, 100)) != 0 {
		t.Error("too small dst")
	}
	big := make([]byte, maxInput)
	if CompressBlock(make([]byte, CompressBound(len(big))), big) != 0 {
		t.Error("input beyond the 64 KiB mode")
	}
}

func TestDecompressMalformed(t *testing.T) {
	cases := map[string][]byte{
		"empty":                {},
		"zero offset":          {0x10, 'a', 0, 0},
		"offset past start":    {0x10, 'a', 2, 0},
		"truncated literals":   {0x50, 'a', 'b'},
		"truncated offset":     {0x10, 'a', 1},
		"truncated lit length": {0xf0},
		"truncated ml length":  {0x1f, 'a', 1, 0},
		"ends after a match":   {0x10, 'a', 1, 0},
	}
	for name, src := range cases {
		if _, err := DecompressBlock(make([]byte, 64), src); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: err = %v", name, err)
		}
	}
	// Output overflow through a long match.
	if _, err := DecompressBlock(make([]byte, 8), []byte{0x1f, 'a', 1, 0, 40, 0x00}); !errors.Is(err, ErrCorrupt) {
		t.Errorf("overflow: %v", err)
	}
}

func TestNoAllocations(t *testing.T) {
	src := inputs()["text"][:1400]
	dst := make([]byte, CompressBound(len(src)))
	out := make([]byte, len(src))
	n := CompressBlock(dst, src)
	if a := testing.AllocsPerRun(50, func() { CompressBlock(dst, src) }); a != 0 {
		t.Errorf("compress allocates %v", a)
	}
	if a := testing.AllocsPerRun(50, func() { _, _ = DecompressBlock(out, dst[:n]) }); a != 0 {
		t.Errorf("decompress allocates %v", a)
	}
}

func FuzzDecompressBlock(f *testing.F) {
	var v struct {
		Compressed string `json:"compressed_packet"`
	}
	testutil.Vectors(f, "lz4.json", &v)
	f.Add(testutil.Hex(f, v.Compressed)[28:])
	f.Fuzz(func(t *testing.T, src []byte) {
		dst := make([]byte, 1024)
		n, err := DecompressBlock(dst, src)
		if err == nil && n > len(dst) {
			t.Fatalf("wrote %d into %d", n, len(dst))
		}
	})
}

func FuzzRoundTrip(f *testing.F) {
	f.Add([]byte("supercalifragilisticexpealidocious supercalifragilisticexpealidocious"))
	f.Fuzz(func(t *testing.T, src []byte) {
		if len(src) == 0 || len(src) >= maxInput {
			return
		}
		dst := make([]byte, CompressBound(len(src)))
		n := CompressBlock(dst, src)
		out := make([]byte, len(src))
		m, err := DecompressBlock(out, dst[:n])
		if err != nil || !bytes.Equal(out[:m], src) {
			t.Fatalf("round trip of %d bytes failed: %v", len(src), err)
		}
	})
}

func BenchmarkCompressBlock(b *testing.B) {
	src := inputs()["mixed"][:1400]
	dst := make([]byte, CompressBound(len(src)))
	b.SetBytes(int64(len(src)))
	b.ReportAllocs()
	for b.Loop() {
		CompressBlock(dst, src)
	}
}

func BenchmarkDecompressBlock(b *testing.B) {
	src := inputs()["text"][:1400]
	dst := make([]byte, CompressBound(len(src)))
	n := CompressBlock(dst, src)
	out := make([]byte, len(src))
	b.SetBytes(int64(len(src)))
	b.ReportAllocs()
	for b.Loop() {
		_, _ = DecompressBlock(out, dst[:n])
	}
}
