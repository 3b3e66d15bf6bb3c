package world

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"

	"github.com/ztgo/ztgo/layer1-vl1/identity"
	"github.com/ztgo/ztgo/layer1-vl1/wire"
)

// Type of world.
type Type uint8

// World types (roots.md §1.1).
const (
	Planet Type = 1
	Moon   Type = 127
)

func (t Type) String() string {
	switch t {
	case Planet:
		return "planet"
	case Moon:
		return "moon"
	}
	return fmt.Sprintf("type %d", uint8(t))
}

// Limits of 1.14.1 (ZT_WORLD_MAX_ROOTS and friends).
const (
	MaxRoots            = 4
	MaxStableEndpoints  = 32
	MaxSerializedLength = (1024+32*32)*4 + 64 + 96 + 128
	headerLength        = 1 + 8 + 8 + 64 + 96 + 1
)

// ErrMalformed is wrapped by decoding failures.
var ErrMalformed = errors.New("malformed world")

// Root is one root server: its identity and the addresses it is reached at.
type Root struct {
	Identity        *identity.Identity
	StableEndpoints []netip.AddrPort
}

// World is a planet or a moon.
type World struct {
	Type      Type
	ID        uint64
	Timestamp uint64 // ms since the epoch; a newer world has a larger one
	// UpdatesMustBeSignedBy is the 64-byte C25519 public key the next
	// update must be signed with (only its Ed25519 half is used).
	UpdatesMustBeSignedBy [identity.PublicKeyLength]byte
	Signature             [identity.SignatureLength]byte
	Roots                 []Root
}

// Decode reads one world from the start of b and returns it and its length
// (OK(HELLO) carries several back to back).
func Decode(b []byte) (*World, int, error) {
	fail := func(format string, args ...any) (*World, int, error) {
		return nil, 0, fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
	}
	if len(b) < headerLength {
		return fail("%d bytes, the header alone is %d", len(b), headerLength)
	}
	w := &World{Type: Type(b[0]), ID: binary.BigEndian.Uint64(b[1:]), Timestamp: binary.BigEndian.Uint64(b[9:])}
	if w.Type != Planet && w.Type != Moon {
		return fail("unknown type %d", b[0])
	}
	copy(w.UpdatesMustBeSignedBy[:], b[17:81])
	copy(w.Signature[:], b[81:177])
	n := int(b[177])
	if n > MaxRoots {
		return fail("%d roots (at most %d)", n, MaxRoots)
	}
	off := headerLength
	for i := 0; i < n; i++ {
		id, used, err := identity.PublicFromBinary(b[off:])
		if err != nil {
			return fail("root %d: %v", i, err)
		}
		if id.HasSecret() {
			return fail("root %d carries a secret key", i)
		}
		off += used
		if off >= len(b) {
			return fail("root %d: endpoint count missing", i)
		}
		e := int(b[off])
		off++
		if e > MaxStableEndpoints {
			return fail("root %d: %d endpoints (at most %d)", i, e, MaxStableEndpoints)
		}
		r := Root{Identity: id}
		for j := 0; j < e; j++ {
			ap, used, err := wire.ReadInetAddress(b[off:])
			if err != nil {
				return fail("root %d endpoint %d: %v", i, j, err)
			}
			if !ap.IsValid() {
				return fail("root %d endpoint %d is not an IP address", i, j)
			}
			r.StableEndpoints = append(r.StableEndpoints, ap)
			off += used
		}
		w.Roots = append(w.Roots, r)
	}
	if w.Type == Moon {
		if len(b)-off < 2 {
			return fail("moon dictionary length missing")
		}
		// 1.14.1 drops the dictionary when parsing and so cannot verify a
		// moon that has one: treat it as malformed.
		if d := binary.BigEndian.Uint16(b[off:]); d != 0 {
			return fail("moon has a %d-byte dictionary (must be empty)", d)
		}
		off += 2
	}
	return w, off, nil
}

// Append appends the serialized world.
func (w *World) Append(b []byte) []byte { return w.appendBody(b, true) }

func (w *World) appendBody(b []byte, withSignature bool) []byte {
	b = append(b, byte(w.Type))
	b = binary.BigEndian.AppendUint64(b, w.ID)
	b = binary.BigEndian.AppendUint64(b, w.Timestamp)
	b = append(b, w.UpdatesMustBeSignedBy[:]...)
	if withSignature {
		b = append(b, w.Signature[:]...)
	}
	b = append(b, byte(len(w.Roots)))
	for _, r := range w.Roots {
		b = r.Identity.AppendBinary(b, false)
		b = append(b, byte(len(r.StableEndpoints)))
		for _, ep := range r.StableEndpoints {
			b = wire.AppendInetAddress(b, ep)
		}
	}
	if w.Type == Moon {
		b = append(b, 0, 0)
	}
	return b
}

// SigningMessage is what the signature covers: the world without its
// signature between eight 0x7f and eight 0xf7 bytes (roots.md §1.3).
func (w *World) SigningMessage() []byte {
	b := []byte{0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f}
	b = w.appendBody(b, false)
	return append(b, 0xf7, 0xf7, 0xf7, 0xf7, 0xf7, 0xf7, 0xf7, 0xf7)
}

// Sign signs the world with a 64-byte C25519 secret (X25519 ‖ Ed25519 seed).
func (w *World) Sign(secret *[identity.SecretKeyLength]byte) {
	w.Signature = identity.SignWithSecret(secret, w.SigningMessage())
}

// Verify checks the signature against a 64-byte C25519 public key.
func (w *World) Verify(key *[identity.PublicKeyLength]byte) bool {
	return identity.VerifyWithPublic(key, w.SigningMessage(), w.Signature[:])
}

// VerifySelf checks the signature against the world's own update key, as a
// first world signed by its own key is.
func (w *World) VerifySelf() bool { return w.Verify(&w.UpdatesMustBeSignedBy) }

// ShouldBeReplacedBy reports whether next is a valid update of w: same type
// and ID, strictly newer, and signed by the key w names (roots.md §3).
func (w *World) ShouldBeReplacedBy(next *World) bool {
	return next.Type == w.Type && next.ID == w.ID && next.Timestamp > w.Timestamp &&
		next.Verify(&w.UpdatesMustBeSignedBy)
}

// MoonIDForAddress is the conventional ID of a moon whose first root has
// address a.
func MoonIDForAddress(a identity.Address) uint64 { return uint64(a) }

// FileName is where a node keeps the world: "planet", or moons.d's
// <16 hex>.moon.
func (w *World) FileName() string {
	if w.Type == Planet {
		return "planet"
	}
	return fmt.Sprintf("%016x.moon", w.ID)
}
