package wire

import (
	"encoding/binary"
	"net/netip"

	"github.com/ztgo/ztgo/layer1-vl1/identity"
)

// ProtocolVersion is the VL1 protocol version ztgo speaks: 12, the first with
// AES-GMAC-SIV, as 1.14.1.
const ProtocolVersion = 12

// MinProtocolVersion is the oldest protocol a HELLO may claim (older ones
// are dropped).
const MinProtocolVersion = 4

// WorldTypeMoon marks a moon entry in HELLO's moon list.
const WorldTypeMoon = 127

// Hello is HELLO (0x01), sent with suite 0 (vl1.md §7.2). Everything after
// the identity is optional on receipt, for old senders.
type Hello struct {
	ProtocolVersion uint8
	Major, Minor    uint8
	Revision        uint16
	Timestamp       uint64
	Identity        *identity.Identity

	HasDestination      bool
	PhysicalDestination netip.AddrPort // where the sender sent it (nil type decodes as zero)

	HasWorld        bool
	PlanetID        uint64
	PlanetTimestamp uint64

	// MoonSection is where the cryptField-encrypted moon list starts,
	// relative to the payload, or 0 if there is none. ParseHello leaves it
	// encrypted: apply CryptField at IdxPayload+MoonSection and call
	// DecodeMoons.
	MoonSection int
	Moons       []MoonRef
}

// MoonRef names a world in HELLO's moon list.
type MoonRef struct {
	Type      uint8 // 127 for moons; other types are skipped by receivers
	ID        uint64
	Timestamp uint64 // 0 when the sender wants the moon but has none yet
}

func (*Hello) Verb() Verb { return VerbHELLO }

// ParseHello decodes a HELLO payload up to the encrypted moon section.
func ParseHello(payload []byte) (*Hello, error) {
	r := NewReader(payload, VerbHELLO)
	h := &Hello{
		ProtocolVersion: r.U8("protocol version"),
		Major:           r.U8("major version"),
		Minor:           r.U8("minor version"),
		Revision:        r.U16("revision"),
		Timestamp:       r.U64("timestamp"),
	}
	h.Identity = r.Identity("identity")
	if r.err == nil && r.Left() > 0 {
		h.HasDestination = true
		h.PhysicalDestination = r.InetAddress("physical destination")
	}
	if r.err == nil && r.Left() >= 16 {
		h.HasWorld = true
		h.PlanetID = r.U64("planet ID")
		h.PlanetTimestamp = r.U64("planet timestamp")
		if r.Left() > 0 {
			h.MoonSection = r.off
		}
	}
	if r.err != nil {
		return nil, r.err
	}
	return h, nil
}

// DecodeMoons reads the decrypted moon section.
func (h *Hello) DecodeMoons(section []byte) error {
	r := NewReader(section, VerbHELLO)
	n := int(r.U16("moon count"))
	h.Moons = h.Moons[:0]
	for i := 0; i < n && r.err == nil; i++ {
		h.Moons = append(h.Moons, MoonRef{Type: r.U8("moon type"), ID: r.U64("moon ID"), Timestamp: r.U64("moon timestamp")})
	}
	return r.err
}

// AppendPayload writes the HELLO with its moon section in plaintext; the
// sender must then apply CryptField from IdxPayload+CryptOffset().
func (h *Hello) AppendPayload(b []byte) []byte {
	b = append(b, h.ProtocolVersion, h.Major, h.Minor)
	b = binary.BigEndian.AppendUint16(b, h.Revision)
	b = binary.BigEndian.AppendUint64(b, h.Timestamp)
	b = h.Identity.AppendBinary(b, false)
	if !h.HasDestination {
		return b
	}
	b = AppendInetAddress(b, h.PhysicalDestination)
	if !h.HasWorld {
		return b
	}
	b = binary.BigEndian.AppendUint64(b, h.PlanetID)
	b = binary.BigEndian.AppendUint64(b, h.PlanetTimestamp)
	if h.MoonSection == 0 && len(h.Moons) == 0 {
		return b
	}
	b = binary.BigEndian.AppendUint16(b, uint16(len(h.Moons)))
	for _, m := range h.Moons {
		b = append(b, m.Type)
		b = binary.BigEndian.AppendUint64(b, m.ID)
		b = binary.BigEndian.AppendUint64(b, m.Timestamp)
	}
	return b
}

// CryptOffset is where AppendPayload puts the moon section, relative to the
// payload, or 0 if it writes none.
func (h *Hello) CryptOffset() int {
	if !h.HasDestination || !h.HasWorld || (h.MoonSection == 0 && len(h.Moons) == 0) {
		return 0
	}
	n := 13 + identity.BinaryPublicLength
	n += len(AppendInetAddress(nil, h.PhysicalDestination))
	return n + 16
}

// OKHello is the reply body of OK(HELLO) (vl1.md §7.3).
type OKHello struct {
	Timestamp       uint64 // the HELLO's, echoed for RTT
	ProtocolVersion uint8
	Major, Minor    uint8
	Revision        uint16

	HasSource      bool
	PhysicalSource netip.AddrPort // the HELLO's source as the responder saw it

	HasWorlds bool
	Worlds    []byte // serialized worlds back to back (see package world)
}

func (*OKHello) Verb() Verb { return VerbHELLO }

// ParseOKHello decodes the body of OK(HELLO) (after in-re verb and ID).
func ParseOKHello(body []byte) (*OKHello, error) {
	r := NewReader(body, VerbOK)
	o := &OKHello{
		Timestamp:       r.U64("HELLO timestamp"),
		ProtocolVersion: r.U8("protocol version"),
		Major:           r.U8("major version"),
		Minor:           r.U8("minor version"),
		Revision:        r.U16("revision"),
	}
	if r.err == nil && r.Left() > 0 {
		o.HasSource = true
		o.PhysicalSource = r.InetAddress("physical source")
	}
	if r.err == nil && r.Left() >= 2 {
		o.HasWorlds = true
		o.Worlds = r.Take(int(r.U16("worlds length")), "worlds")
	}
	if r.err != nil {
		return nil, r.err
	}
	return o, nil
}

// AppendPayload appends the OK(HELLO) body.
func (o *OKHello) AppendPayload(b []byte) []byte {
	b = binary.BigEndian.AppendUint64(b, o.Timestamp)
	b = append(b, o.ProtocolVersion, o.Major, o.Minor)
	b = binary.BigEndian.AppendUint16(b, o.Revision)
	if !o.HasSource {
		return b
	}
	b = AppendInetAddress(b, o.PhysicalSource)
	if !o.HasWorlds {
		return b
	}
	b = binary.BigEndian.AppendUint16(b, uint16(len(o.Worlds)))
	return append(b, o.Worlds...)
}
