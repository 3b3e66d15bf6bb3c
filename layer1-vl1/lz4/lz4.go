package lz4

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Format constants of LZ4 1.7.5 for its small-input ("byU16") table mode.
const (
	minMatch     = 4
	lastLiterals = 5                     // a block ends with at least this many literals
	mfLimit      = 12                    // no match starts within this many bytes of the end
	minLength    = mfLimit + 1           // shorter inputs are all literals
	hashLog      = 13                    // 2^13 uint16 positions: 16 KiB on the stack
	skipTrigger  = 6                     // search acceleration: step grows every 64 misses
	maxInput     = 64*1024 + mfLimit - 1 // the byU16 mode's limit
	runMask      = 15                    // 4-bit length fields
)

// CompressBound is the largest compressed size of n input bytes.
func CompressBound(n int) int { return n + n/255 + 16 }

func hashAt(src []byte, p int) uint32 {
	return binary.LittleEndian.Uint32(src[p:]) * 2654435761 >> (32 - hashLog)
}

func read32(src []byte, p int) uint32 { return binary.LittleEndian.Uint32(src[p:]) }

// CompressBlock compresses src into dst and returns the compressed length,
// or 0 if src is empty or too large (64 KiB + 11 bytes or more) or dst has
// less room than CompressBound(len(src)).
func CompressBlock(dst, src []byte) int {
	n := len(src)
	if n == 0 || n >= maxInput || len(dst) < CompressBound(n) {
		return 0
	}
	var table [1 << hashLog]uint16
	op, anchor := 0, 0
	if n >= minLength {
		op, anchor = compressSequences(dst, src, &table)
	}
	return op + writeLastLiterals(dst[op:], src[anchor:])
}

// compressSequences emits every match sequence and returns the output
// length and where the trailing literals start.
func compressSequences(dst, src []byte, table *[1 << hashLog]uint16) (op, anchor int) {
	n := len(src)
	matchLimit, mflimit := n-lastLiterals, n-mfLimit
	table[hashAt(src, 0)] = 0
	ip := 1
	forwardH := hashAt(src, ip)
	for {
		// Find a match, skipping faster the longer nothing is found.
		var match int
		forwardIP, step, searches := ip, 1, 1<<skipTrigger
		for {
			h := forwardH
			ip = forwardIP
			forwardIP += step
			step = searches >> skipTrigger
			searches++
			if forwardIP > mflimit {
				return op, anchor
			}
			match = int(table[h])
			forwardH = hashAt(src, forwardIP)
			table[h] = uint16(ip)
			if read32(src, match) == read32(src, ip) {
				break
			}
		}
		// Extend the match backwards over equal literals.
		for ip > anchor && match > 0 && src[ip-1] == src[match-1] {
			ip--
			match--
		}
		token := op
		op++
		op = writeLength(dst, op, token, ip-anchor, 4)
		op += copy(dst[op:], src[anchor:ip])

		for {
			binary.LittleEndian.PutUint16(dst[op:], uint16(ip-match))
			op += 2
			ml := 0
			for ip+minMatch+ml < matchLimit && src[ip+minMatch+ml] == src[match+minMatch+ml] {
				ml++
			}
			ip += minMatch + ml
			op = writeLength(dst, op, token, ml, 0)
			anchor = ip
			if ip > mflimit {
				return op, anchor
			}
			table[hashAt(src, ip-2)] = uint16(ip - 2)
			// A match right here continues with an empty literal run.
			h := hashAt(src, ip)
			match = int(table[h])
			table[h] = uint16(ip)
			if read32(src, match) != read32(src, ip) {
				break
			}
			token = op
			dst[token] = 0
			op++
		}
		ip++
		forwardH = hashAt(src, ip)
	}
}

// writeLength stores length l into the token nibble at shift (4: literals,
// 0: match) and, when it does not fit, the 255-continuation bytes at op.
func writeLength(dst []byte, op, token, l, shift int) int {
	if shift == 4 {
		dst[token] = 0
	}
	if l < runMask {
		dst[token] |= byte(l << shift)
		return op
	}
	dst[token] |= runMask << shift
	for l -= runMask; l >= 255; l -= 255 {
		dst[op] = 255
		op++
	}
	dst[op] = byte(l)
	return op + 1
}

func writeLastLiterals(dst, lit []byte) int {
	op := writeLength(dst, 1, 0, len(lit), 4)
	return op + copy(dst[op:], lit)
}

// ErrCorrupt is wrapped by every DecompressBlock failure.
var ErrCorrupt = errors.New("lz4: corrupt block")

// DecompressBlock expands src into dst and returns the number of bytes
// written. It never reads or writes out of bounds: truncated input, an
// offset outside the output, or output larger than dst is an error.
func DecompressBlock(dst, src []byte) (int, error) {
	ip, op := 0, 0
	for {
		if ip >= len(src) {
			return 0, fmt.Errorf("%w: input ends before a token at %d", ErrCorrupt, ip)
		}
		token := src[ip]
		ip++
		lit, err := readLength(src, &ip, int(token>>4))
		if err != nil {
			return 0, err
		}
		if lit > len(src)-ip {
			return 0, fmt.Errorf("%w: %d literals but %d input bytes left", ErrCorrupt, lit, len(src)-ip)
		}
		if lit > len(dst)-op {
			return 0, fmt.Errorf("%w: output exceeds %d bytes", ErrCorrupt, len(dst))
		}
		op += copy(dst[op:], src[ip:ip+lit])
		ip += lit
		if ip == len(src) {
			return op, nil // the last sequence is literals only
		}
		if len(src)-ip < 2 {
			return 0, fmt.Errorf("%w: offset truncated", ErrCorrupt)
		}
		offset := int(binary.LittleEndian.Uint16(src[ip:]))
		ip += 2
		if offset == 0 || offset > op {
			return 0, fmt.Errorf("%w: offset %d beyond %d bytes of output", ErrCorrupt, offset, op)
		}
		ml, err := readLength(src, &ip, int(token&0xf))
		if err != nil {
			return 0, err
		}
		ml += minMatch
		if ml > len(dst)-op {
			return 0, fmt.Errorf("%w: output exceeds %d bytes", ErrCorrupt, len(dst))
		}
		// Overlapping copies repeat the pattern, so go byte by byte then.
		from := op - offset
		if offset >= ml {
			op += copy(dst[op:op+ml], dst[from:from+ml])
		} else {
			for i := 0; i < ml; i++ {
				dst[op+i] = dst[from+i]
			}
			op += ml
		}
	}
}

func readLength(src []byte, ip *int, l int) (int, error) {
	if l != runMask {
		return l, nil
	}
	for {
		if *ip >= len(src) {
			return 0, fmt.Errorf("%w: length continuation truncated", ErrCorrupt)
		}
		b := src[*ip]
		*ip++
		l += int(b)
		if l > 1<<24 {
			return 0, fmt.Errorf("%w: length too large", ErrCorrupt)
		}
		if b != 255 {
			return l, nil
		}
	}
}
