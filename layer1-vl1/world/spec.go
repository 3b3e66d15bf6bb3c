package world

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	transport "github.com/ztgo/ztgo/layer0-transport"
	"github.com/ztgo/ztgo/layer1-vl1/identity"
)

// KeyPair is a world signing key: a C25519 public key and its secret.
type KeyPair struct {
	Public [identity.PublicKeyLength]byte
	Secret [identity.SecretKeyLength]byte
}

// ParseKeyPair reads a signing key as 128 raw bytes (public ‖ secret, the
// layout of mkworld's *.c25519 files) or as 256 hex digits.
func ParseKeyPair(b []byte) (*KeyPair, error) {
	raw := b
	if t := bytes.TrimSpace(b); len(t) == 256 {
		if d, err := hex.DecodeString(string(t)); err == nil {
			raw = d
		}
	}
	if len(raw) != 128 {
		return nil, fmt.Errorf("signing key: want 128 bytes (public and secret) or 256 hex digits, got %d bytes", len(b))
	}
	kp := &KeyPair{}
	copy(kp.Public[:], raw[:64])
	copy(kp.Secret[:], raw[64:])
	return kp, nil
}

// Spec is a world described in JSON. Two dialects are read: the one
// `zerotier-idtool initmoon` writes and `genmoon` reads (worldType, id as hex
// string, signingKey, signingKey_SECRET, updatesMustBeSignedBy), and the
// lab's mkworld one (type, id as a number, ts, key in a separate file).
type Spec struct {
	ObjType               string          `json:"objtype,omitempty"`
	WorldType             string          `json:"worldType,omitempty"`
	Type                  string          `json:"type,omitempty"`
	ID                    json.RawMessage `json:"id"`
	Timestamp             uint64          `json:"ts,omitempty"`
	SigningKey            string          `json:"signingKey,omitempty"`
	SigningKeySecret      string          `json:"signingKey_SECRET,omitempty"`
	UpdatesMustBeSignedBy string          `json:"updatesMustBeSignedBy,omitempty"`
	Roots                 []SpecRoot      `json:"roots"`
}

// SpecRoot is one root in a Spec.
type SpecRoot struct {
	Identity        string   `json:"identity"`
	StableEndpoints []string `json:"stableEndpoints"`
}

// ParseSpec decodes a world description.
func ParseSpec(b []byte) (*Spec, error) {
	var s Spec
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("world JSON: %w", err)
	}
	return &s, nil
}

// Build makes and signs the world. key, if given, is used when the JSON
// carries no signing key (and as the update key when it names none);
// timestamp is used when the JSON has no "ts".
func (s *Spec) Build(timestamp uint64, key *KeyPair) (*World, error) {
	typ, err := s.worldType()
	if err != nil {
		return nil, err
	}
	id, err := s.worldID()
	if err != nil {
		return nil, err
	}
	if s.Timestamp != 0 {
		timestamp = s.Timestamp
	}
	kp, update, err := s.keys(key)
	if err != nil {
		return nil, err
	}
	if len(s.Roots) == 0 || len(s.Roots) > MaxRoots {
		return nil, fmt.Errorf("world JSON: %d roots (need 1 to %d)", len(s.Roots), MaxRoots)
	}
	var roots []Root
	for i, r := range s.Roots {
		rid, err := identity.Parse(r.Identity)
		if err != nil {
			return nil, fmt.Errorf("world JSON: root %d: %w", i, err)
		}
		root := Root{Identity: rid.Public()}
		if len(r.StableEndpoints) > MaxStableEndpoints {
			return nil, fmt.Errorf("world JSON: root %d has %d endpoints (at most %d)", i, len(r.StableEndpoints), MaxStableEndpoints)
		}
		for _, e := range r.StableEndpoints {
			ap, err := transport.ParseAddrPort(e)
			if err != nil {
				return nil, fmt.Errorf("world JSON: root %d endpoint %q: want ip/port", i, e)
			}
			root.StableEndpoints = append(root.StableEndpoints, ap)
		}
		roots = append(roots, root)
	}
	return Make(typ, id, timestamp, update, roots, &kp.Secret), nil
}

func (s *Spec) worldType() (Type, error) {
	t := s.WorldType
	if t == "" {
		t = s.Type
	}
	switch t {
	case "planet":
		return Planet, nil
	case "moon":
		return Moon, nil
	}
	return 0, fmt.Errorf("world JSON: worldType must be \"planet\" or \"moon\", got %q", t)
}

func (s *Spec) worldID() (uint64, error) {
	raw := strings.TrimSpace(string(s.ID))
	if raw == "" || raw == "null" {
		return 0, errors.New("world JSON: missing id")
	}
	if strings.HasPrefix(raw, `"`) {
		var hexID string
		if err := json.Unmarshal(s.ID, &hexID); err != nil {
			return 0, fmt.Errorf("world JSON: id: %w", err)
		}
		v, err := strconv.ParseUint(hexID, 16, 64)
		if err != nil || v == 0 {
			return 0, fmt.Errorf("world JSON: id %q is not a non-zero hex number", hexID)
		}
		return v, nil
	}
	v, err := strconv.ParseUint(raw, 10, 64)
	if err != nil || v == 0 {
		return 0, fmt.Errorf("world JSON: id %s is not a non-zero number", raw)
	}
	return v, nil
}

func (s *Spec) keys(key *KeyPair) (*KeyPair, [identity.PublicKeyLength]byte, error) {
	var update [identity.PublicKeyLength]byte
	kp := key
	if s.SigningKey != "" || s.SigningKeySecret != "" {
		kp = &KeyPair{}
		if err := decodeKey(kp.Public[:], s.SigningKey, "signingKey"); err != nil {
			return nil, update, err
		}
		if err := decodeKey(kp.Secret[:], s.SigningKeySecret, "signingKey_SECRET"); err != nil {
			return nil, update, err
		}
	}
	if kp == nil {
		return nil, update, errors.New("world JSON: no signing key (give signingKey and signingKey_SECRET, or a key file)")
	}
	update = kp.Public
	if s.UpdatesMustBeSignedBy != "" {
		if err := decodeKey(update[:], s.UpdatesMustBeSignedBy, "updatesMustBeSignedBy"); err != nil {
			return nil, update, err
		}
	}
	return kp, update, nil
}

func decodeKey(dst []byte, s, name string) error {
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != len(dst) {
		return fmt.Errorf("world JSON: %s must be %d hex digits", name, 2*len(dst))
	}
	copy(dst, b)
	return nil
}

// Make builds and signs a world, sorting roots (by address, then public
// key) and each root's endpoints (IPv4 first, then port, then address) as
// genmoon does; the order does not affect verification.
func Make(typ Type, id, timestamp uint64, updatesMustBeSignedBy [identity.PublicKeyLength]byte, roots []Root, secret *[identity.SecretKeyLength]byte) *World {
	roots = slices.Clone(roots)
	slices.SortFunc(roots, func(a, b Root) int {
		if c := cmpUint(uint64(a.Identity.Address()), uint64(b.Identity.Address())); c != 0 {
			return c
		}
		pa, pb := a.Identity.PublicKey(), b.Identity.PublicKey()
		return bytes.Compare(pa[:], pb[:])
	})
	for i := range roots {
		eps := slices.Clone(roots[i].StableEndpoints)
		slices.SortFunc(eps, compareEndpoints)
		roots[i].StableEndpoints = eps
	}
	w := &World{Type: typ, ID: id, Timestamp: timestamp, UpdatesMustBeSignedBy: updatesMustBeSignedBy, Roots: roots}
	w.Sign(secret)
	return w
}

func compareEndpoints(a, b netip.AddrPort) int {
	a4, b4 := a.Addr().Unmap().Is4(), b.Addr().Unmap().Is4()
	if a4 != b4 {
		if a4 {
			return -1
		}
		return 1
	}
	if c := cmpUint(uint64(a.Port()), uint64(b.Port())); c != 0 {
		return c
	}
	return a.Addr().Compare(b.Addr())
}

func cmpUint(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
