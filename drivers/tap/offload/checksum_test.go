package offload

import (
	"math/rand/v2"
	"testing"
)

// TestSumMatchesRFC1071 compares the 64-bit sum with the word-by-word one
// on every length around the unrolled loop's steps, on data that carries
// a lot (all ones) and on random data.
func TestSumMatchesRFC1071(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for n := 0; n < 300; n++ {
		ones := make([]byte, n)
		for i := range ones {
			ones[i] = 0xff
		}
		random := make([]byte, n)
		for i := range random {
			random[i] = byte(r.Uint32())
		}
		for _, b := range [][]byte{ones, random} {
			if got, want := ^fold(sum(0, b)), naiveChecksum(b); got != want {
				t.Fatalf("len %d: checksum %#04x, want %#04x", n, got, want)
			}
		}
	}
	if got := fold(addWord(^uint64(0), 1)); got != 1 {
		t.Fatalf("end-around carry lost: %#x", got)
	}
}

func BenchmarkChecksum1500(b *testing.B) {
	buf := stream(1500)
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		sum(0, buf)
	}
}
