package wire

import "github.com/ztgo/ztgo/layer1-vl1/ztcrypto"

// CryptField XORs p[start:] with Salsa20/12 keyed by the unmangled peer key
// and the packet ID with its low three bits cleared. HELLO uses it to hide
// its moon list although the packet itself travels with suite 0; the same
// call encrypts and decrypts (vl1-crypto.md §6). The sender applies it before
// armoring, the receiver after dearmoring.
func CryptField(p Packet, k *Keys, start int) {
	if start < MinPacketLength || start > len(p) {
		return
	}
	var nonce [8]byte
	copy(nonce[:], p[:8])
	nonce[7] &= 0xf8
	s := ztcrypto.NewSalsa20(&k.salsa, &nonce, 12)
	s.XORKeyStream(p[start:], p[start:])
}
