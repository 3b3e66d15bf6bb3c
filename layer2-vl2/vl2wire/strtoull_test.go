package vl2wire

import (
	"math"
	"testing"
)

func TestStrtoull(t *testing.T) {
	for _, c := range []struct {
		s    string
		base uint64
		want uint64
	}{
		{"1a", 16, 0x1a},
		{"  \t0x1A", 16, 0x1a},
		{"0x", 16, 0}, // "0x" without a digit after it is a 0 followed by junk
		{"0xg", 16, 0},
		{"-1", 16, math.MaxUint64},
		{"+12zz", 10, 12},
		{"12", 10, 12},
		{"1a", 10, 1},
		{"0x10", 10, 0},
		{"ffffffffffffffff", 16, math.MaxUint64},
		{"10000000000000000", 16, math.MaxUint64}, // overflow saturates
		{"18446744073709551616", 10, math.MaxUint64},
		{"", 10, 0},
	} {
		if got := Strtoull(c.s, c.base); got != c.want {
			t.Errorf("Strtoull(%q, %d) = %#x, want %#x", c.s, c.base, got, c.want)
		}
		if got := Strtoull([]byte(c.s), c.base); got != c.want {
			t.Errorf("Strtoull([]byte(%q), %d) = %#x, want %#x", c.s, c.base, got, c.want)
		}
	}
}
