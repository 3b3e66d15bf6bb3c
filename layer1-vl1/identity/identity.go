package identity

import (
	"crypto/ed25519"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/curve25519"
)

// Key sizes of identity type 0 (vl1.md §3.1).
const (
	PublicKeyLength    = 64 // X25519 public ‖ Ed25519 public
	SecretKeyLength    = 64 // X25519 secret ‖ Ed25519 seed
	BinaryPublicLength = AddressLength + 1 + PublicKeyLength + 1
	BinarySecretLength = BinaryPublicLength + SecretKeyLength
	typeC25519         = 0
)

// Identity is a type-0 ZeroTier identity, optionally with its secret keys.
// It is immutable after construction.
type Identity struct {
	address Address
	public  [PublicKeyLength]byte
	secret  *[SecretKeyLength]byte
}

// Errors wrapped by the parsers and validation.
var (
	ErrMalformed    = errors.New("malformed identity")
	ErrInvalid      = errors.New("identity fails validation")
	ErrNoSecret     = errors.New("identity has no secret key")
	ErrBadAgreement = errors.New("key agreement gave a low-order result")
)

// Address returns the identity's 40-bit address.
func (id *Identity) Address() Address { return id.address }

// PublicKey returns the 64-byte public key.
func (id *Identity) PublicKey() [PublicKeyLength]byte { return id.public }

// HasSecret reports whether the secret keys are present.
func (id *Identity) HasSecret() bool { return id.secret != nil }

// Public returns the identity without its secret keys.
func (id *Identity) Public() *Identity {
	return &Identity{address: id.address, public: id.public}
}

// Equal reports whether both identities have the same address and public key.
func (id *Identity) Equal(o *Identity) bool {
	return id.address == o.address && id.public == o.public
}

// String is the public string form `address:0:public`.
func (id *Identity) String() string {
	return id.address.String() + ":0:" + hex.EncodeToString(id.public[:])
}

// SecretString is `address:0:public:secret`, or the public form when there is
// no secret.
func (id *Identity) SecretString() string {
	if id.secret == nil {
		return id.String()
	}
	return id.String() + ":" + hex.EncodeToString(id.secret[:])
}

// Parse reads the string form. Surrounding white space is ignored (files
// usually end with a newline). Parsing does not run the proof of work: call
// Validate for identities from untrusted sources.
func Parse(s string) (*Identity, error) {
	s = strings.TrimSpace(s)
	fields := strings.Split(s, ":")
	if len(fields) != 3 && len(fields) != 4 {
		return nil, fmt.Errorf("%w: want address:0:public[:secret], got %d fields", ErrMalformed, len(fields))
	}
	addr, err := ParseAddress(fields[0])
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if fields[1] != "0" {
		return nil, fmt.Errorf("%w: unknown identity type %q (only 0 exists)", ErrMalformed, fields[1])
	}
	id := &Identity{address: addr}
	if err := decodeHexKey(id.public[:], fields[2], "public key"); err != nil {
		return nil, err
	}
	if len(fields) == 4 {
		id.secret = new([SecretKeyLength]byte)
		if err := decodeHexKey(id.secret[:], fields[3], "secret key"); err != nil {
			return nil, err
		}
		if err := id.checkSecretMatchesPublic(); err != nil {
			return nil, err
		}
	}
	return id, nil
}

func decodeHexKey(dst []byte, s, what string) error {
	if len(s) != 2*len(dst) {
		return fmt.Errorf("%w: %s must be %d hex digits, got %d", ErrMalformed, what, 2*len(dst), len(s))
	}
	if _, err := hex.Decode(dst, []byte(s)); err != nil {
		return fmt.Errorf("%w: %s is not hexadecimal", ErrMalformed, what)
	}
	return nil
}

// checkSecretMatchesPublic refuses a secret whose keys do not produce the
// public key: using one would sign and agree as somebody else.
func (id *Identity) checkSecretMatchesPublic() error {
	x, err := curve25519.X25519(id.secret[:32], curve25519.Basepoint)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	ed := ed25519.NewKeyFromSeed(id.secret[32:]).Public().(ed25519.PublicKey)
	if string(x) != string(id.public[:32]) || string(ed) != string(id.public[32:]) {
		return fmt.Errorf("%w: secret key does not match public key", ErrMalformed)
	}
	return nil
}

// FromBinary reads the binary form (vl1.md §3.3) at the start of b and returns
// the identity and the number of bytes it occupied.
func FromBinary(b []byte) (*Identity, int, error) {
	if len(b) < BinaryPublicLength {
		return nil, 0, fmt.Errorf("%w: %d bytes, need at least %d", ErrMalformed, len(b), BinaryPublicLength)
	}
	addr := AddressFromBytes(b)
	if addr.IsReserved() {
		return nil, 0, fmt.Errorf("%w: %w %s", ErrMalformed, ErrReservedAddress, addr)
	}
	if b[5] != typeC25519 {
		return nil, 0, fmt.Errorf("%w: unknown identity type %d", ErrMalformed, b[5])
	}
	id := &Identity{address: addr}
	copy(id.public[:], b[6:70])
	switch b[70] {
	case 0:
		return id, BinaryPublicLength, nil
	case SecretKeyLength:
		if len(b) < BinarySecretLength {
			return nil, 0, fmt.Errorf("%w: secret key truncated (%d of %d bytes)", ErrMalformed, len(b)-BinaryPublicLength, SecretKeyLength)
		}
		id.secret = new([SecretKeyLength]byte)
		copy(id.secret[:], b[71:BinarySecretLength])
		if err := id.checkSecretMatchesPublic(); err != nil {
			return nil, 0, err
		}
		return id, BinarySecretLength, nil
	default:
		return nil, 0, fmt.Errorf("%w: secret key length byte %d (want 0 or 64)", ErrMalformed, b[70])
	}
}

// ErrSecretOnWire is returned by PublicFromBinary for an identity that
// carries its secret keys.
var ErrSecretOnWire = errors.New("identity carries a secret key")

// PublicFromBinary is FromBinary for identities that come from the
// network, which never carry a secret: one that does is refused before its
// keys are checked, a check that costs a scalar multiplication and a key
// expansion per packet that a forger can make us pay.
func PublicFromBinary(b []byte) (*Identity, int, error) {
	if len(b) > BinaryPublicLength-1 && b[BinaryPublicLength-1] != 0 {
		return nil, 0, fmt.Errorf("%w: %w", ErrMalformed, ErrSecretOnWire)
	}
	return FromBinary(b)
}

// AppendBinary appends the binary form; the secret is included only when
// withSecret is set and present (on the wire it never is).
func (id *Identity) AppendBinary(b []byte, withSecret bool) []byte {
	b = id.address.Append(b)
	b = append(b, typeC25519)
	b = append(b, id.public[:]...)
	if withSecret && id.secret != nil {
		b = append(b, SecretKeyLength)
		return append(b, id.secret[:]...)
	}
	return append(b, 0)
}

// Validate runs the proof of work: the identity is genuine only if its
// address is not reserved and the memory-hard digest of its public key both
// meets the work bound and ends in the address.
func (id *Identity) Validate() error {
	if id.address.IsReserved() {
		return fmt.Errorf("%w: %w", ErrInvalid, ErrReservedAddress)
	}
	d := powDigest(&id.public)
	if !powAccepts(&d, id.address) {
		return fmt.Errorf("%w: proof of work does not yield %s", ErrInvalid, id.address)
	}
	return nil
}

// PowDigest returns the proof-of-work digest of the identity's public key.
func (id *Identity) PowDigest() [64]byte { return powDigest(&id.public) }

// PublicKeyHash is SHA-384(address ‖ public key), which VL2's certificates of
// membership carry.
func (id *Identity) PublicKeyHash() [48]byte {
	var buf [AddressLength + PublicKeyLength]byte
	id.address.Put(buf[:])
	copy(buf[AddressLength:], id.public[:])
	return sha512.Sum384(buf[:])
}

// SecretKey returns the 64-byte secret (X25519 secret ‖ Ed25519 seed), or
// zeros when the identity has none. Worlds can be signed with it.
func (id *Identity) SecretKey() [SecretKeyLength]byte {
	if id.secret == nil {
		return [SecretKeyLength]byte{}
	}
	return *id.secret
}
