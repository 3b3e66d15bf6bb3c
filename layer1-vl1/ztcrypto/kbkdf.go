package ztcrypto

import (
	"crypto/hmac"
	"crypto/sha512"
)

// KBKDF derives 48 bytes from key with HMAC-SHA-384 in counter mode, exactly
// one iteration, as ZeroTier derives its AES-GMAC-SIV keys: the message is
// counter(0) ‖ "ZT" ‖ label ‖ 0x00 ‖ context(0x00) ‖ 384 as a 32-bit length.
func KBKDF(key []byte, label byte) [48]byte {
	msg := [13]byte{0, 0, 0, 0, 'Z', 'T', label, 0, 0, 0, 0, 0x01, 0x80}
	mac := hmac.New(sha512.New384, key)
	mac.Write(msg[:])
	var out [48]byte
	mac.Sum(out[:0])
	return out
}
