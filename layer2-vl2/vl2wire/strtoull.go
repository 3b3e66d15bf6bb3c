package vl2wire

import "math"

// Strtoull reads a number as C's strtoull does in base 10 or 16, which is
// how ZeroTier reads dictionary values (base 16) and the controller's JSON
// strings: leading white space, an optional sign (a minus negates modulo
// 2^64), an optional 0x in base 16, then as many digits as there are;
// overflow saturates.
func Strtoull[T ~string | ~[]byte](s T, base uint64) uint64 {
	i := 0
	for i < len(s) && (s[i] == ' ' || s[i] >= '\t' && s[i] <= '\r') {
		i++
	}
	neg := false
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		neg = s[i] == '-'
		i++
	}
	if base == 16 && i+2 < len(s) && s[i] == '0' && (s[i+1] == 'x' || s[i+1] == 'X') && HexDigit(s[i+2]) >= 0 {
		i += 2
	}
	var v uint64
	overflow := false
	for ; i < len(s); i++ {
		d := HexDigit(s[i])
		if d < 0 || uint64(d) >= base {
			break
		}
		if v > (math.MaxUint64-uint64(d))/base {
			overflow = true
		}
		v = v*base + uint64(d)
	}
	if overflow {
		return math.MaxUint64
	}
	if neg {
		return -v
	}
	return v
}

// HexDigit is c's value as a hex digit, or -1.
func HexDigit(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}
