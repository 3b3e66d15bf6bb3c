package wire

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/ztgo/ztgo/layer1-vl1/ztcrypto"
)

// Armoring errors. A packet that fails to dearmor is dropped; these say why.
var (
	ErrShortPacket      = errors.New("packet shorter than 28 bytes")
	ErrAuthentication   = errors.New("packet failed authentication")
	ErrUnknownCipher    = errors.New("unknown cipher suite")
	ErrTrustedPath      = errors.New("trusted-path packet needs a trusted path")
	ErrUntrustedPathID  = errors.New("trusted-path ID not configured")
	errArmorSuite       = errors.New("cannot armor with this suite")
	errArmorWithHopsSet = errors.New("armoring a packet whose hop count is not 0")
)

// Armor authenticates (and, for suites 1 and 3, encrypts) p in place with
// suite, using p's packet ID as the IV. The fragmented flag must already be
// set as the packet will be sent. For suite 3 the packet ID is replaced by the
// first half of the synthetic IV (vl1-crypto.md §5).
func Armor(p Packet, k *Keys, suite CipherSuite) error {
	if !p.Valid() {
		return ErrShortPacket
	}
	if p.Hops() != 0 {
		return errArmorWithHopsSet
	}
	flags := p[IdxFlags] &^ (flagCipherMask | flagEncryptedLegacy)
	flags |= byte(suite) << 3
	switch suite {
	case SuitePoly1305None:
		p[IdxFlags] = flags
		armorSalsa(p, k, false)
	case SuitePoly1305Salsa20:
		p[IdxFlags] = flags | flagEncryptedLegacy
		armorSalsa(p, k, true)
	case SuiteAESGMACSIV:
		p[IdxFlags] = flags
		armorSIV(p, k)
	default:
		return fmt.Errorf("%w %d", errArmorSuite, suite)
	}
	return nil
}

// Dearmor authenticates and decrypts p in place with the suite its flag byte
// names, returning the IV the sender armored with (for suite 3 that differs
// from the packet ID on the wire). On failure p is unchanged.
func Dearmor(p Packet, k *Keys) (iv [8]byte, err error) {
	if !p.Valid() {
		return iv, ErrShortPacket
	}
	switch p.Cipher() {
	case SuitePoly1305None, SuitePoly1305Salsa20:
		copy(iv[:], p[:8])
		if !dearmorSalsa(p, k, p.Cipher() == SuitePoly1305Salsa20) {
			return iv, ErrAuthentication
		}
		return iv, nil
	case SuiteAESGMACSIV:
		iv, ok := dearmorSIV(p, k)
		if !ok {
			return iv, ErrAuthentication
		}
		return iv, nil
	case SuiteTrustedPath:
		return iv, ErrTrustedPath
	}
	return iv, fmt.Errorf("%w %d", ErrUnknownCipher, p.Cipher())
}

// ArmorTrusted marks p as sent over a trusted path (suite 2): no crypto, the
// path ID in the MAC field (vl1-crypto.md §5.5).
func ArmorTrusted(p Packet, trustedPathID uint64) error {
	if !p.Valid() {
		return ErrShortPacket
	}
	p[IdxFlags] = p[IdxFlags]&^(flagCipherMask|flagEncryptedLegacy) | byte(SuiteTrustedPath)<<3
	binary.BigEndian.PutUint64(p[IdxMAC:], trustedPathID)
	return nil
}

// DearmorTrusted accepts a suite-2 packet only if its path ID is the one
// configured for the physical path it arrived on.
func DearmorTrusted(p Packet, trustedPathID uint64) error {
	if !p.Valid() {
		return ErrShortPacket
	}
	if p.Cipher() != SuiteTrustedPath {
		return fmt.Errorf("%w: packet uses %v", ErrUnknownCipher, p.Cipher())
	}
	if trustedPathID == 0 || p.MAC() != trustedPathID {
		return ErrUntrustedPathID
	}
	return nil
}

// mangledKey is the per-packet Salsa20 key of suites 0 and 1: the peer key
// XORed with the header and the packet length (vl1-crypto.md §5.2).
func mangledKey(p Packet, k *Keys) (key [32]byte) {
	key = k.salsa
	for i := 0; i < IdxFlags; i++ {
		key[i] ^= p[i]
	}
	key[18] ^= p[IdxFlags] &^ flagHopsMask
	key[19] ^= byte(len(p))
	key[20] ^= byte(len(p) >> 8)
	return key
}

func salsaFor(p Packet, k *Keys) (s ztcrypto.Salsa20, macKey [32]byte) {
	key := mangledKey(p, k)
	var nonce [8]byte
	copy(nonce[:], p[:8])
	s.Init(&key, &nonce, 12)
	s.KeyStream(macKey[:]) // block 0; the payload keystream starts at block 1
	return s, macKey
}

func armorSalsa(p Packet, k *Keys, encrypt bool) {
	s, macKey := salsaFor(p, k)
	env := p[IdxVerb:]
	if encrypt {
		s.XORKeyStream(env, env)
	}
	var tag [ztcrypto.Poly1305TagLength]byte
	ztcrypto.Poly1305Sum(&tag, env, &macKey)
	copy(p[IdxMAC:IdxVerb], tag[:])
}

func dearmorSalsa(p Packet, k *Keys, decrypt bool) bool {
	s, macKey := salsaFor(p, k)
	env := p[IdxVerb:]
	if !ztcrypto.Poly1305Verify(p[IdxMAC:IdxVerb], env, &macKey) {
		return false
	}
	if decrypt {
		s.XORKeyStream(env, env)
	}
	return true
}

// withSIVAAD lays the suite-3 associated data (destination, source, flags
// without hops, 5 zero bytes) into p[11:27], directly before the envelope, so
// GMAC can run over one contiguous buffer without copying the payload. The
// 16 header bytes it overwrites are restored afterwards.
func withSIVAAD(p Packet, fn func(buf []byte)) {
	var saved [ztcrypto.GMACSIVAADLength]byte
	const start = IdxVerb - ztcrypto.GMACSIVAADLength
	copy(saved[:], p[start:IdxVerb])
	var aad [11]byte
	copy(aad[:], p[IdxDestination:IdxMAC])
	aad[10] &^= flagHopsMask
	copy(p[start:], aad[:])
	clear(p[start+11 : IdxVerb])
	fn(p[start:])
	copy(p[start:IdxVerb], saved[:])
}

func armorSIV(p Packet, k *Keys) {
	var tag [16]byte
	var iv [8]byte
	copy(iv[:], p[:8])
	withSIVAAD(p, func(buf []byte) { k.siv.Seal(&tag, iv[:], buf) })
	copy(p[IdxPacketID:], tag[:8])
	copy(p[IdxMAC:], tag[8:])
}

func dearmorSIV(p Packet, k *Keys) (iv [8]byte, ok bool) {
	var tag [16]byte
	copy(tag[:8], p[IdxPacketID:])
	copy(tag[8:], p[IdxMAC:IdxVerb])
	withSIVAAD(p, func(buf []byte) { iv, ok = k.siv.Open(&tag, buf) })
	return iv, ok
}
