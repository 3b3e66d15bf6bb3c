package wire

import (
	"bytes"
	"encoding/binary"
	"net/netip"

	"github.com/ztgo/ztgo/layer1-vl1/identity"
)

// Whois is WHOIS (0x04): addresses whose identities are wanted.
type Whois struct{ Addresses []identity.Address }

func (*Whois) Verb() Verb { return VerbWHOIS }

// ParseWhois decodes one or more 5-byte addresses.
func ParseWhois(payload []byte) (*Whois, error) {
	r := NewReader(payload, VerbWHOIS)
	if len(payload) == 0 || len(payload)%identity.AddressLength != 0 {
		r.Fail("%d bytes is not a whole number of addresses", len(payload))
		return nil, r.err
	}
	w := &Whois{}
	for r.Left() > 0 {
		w.Addresses = append(w.Addresses, r.Address("address"))
	}
	return w, nil
}

func (w *Whois) AppendPayload(b []byte) []byte {
	for _, a := range w.Addresses {
		b = a.Append(b)
	}
	return b
}

// Rendezvous is RENDEZVOUS (0x05): a root telling a node where another peer
// can be reached, for hole punching (vl1.md §7.5).
type Rendezvous struct {
	Flags    uint8
	With     identity.Address
	Endpoint netip.AddrPort
}

func (*Rendezvous) Verb() Verb { return VerbRENDEZVOUS }

// ParseRendezvous decodes a RENDEZVOUS payload.
func ParseRendezvous(payload []byte) (*Rendezvous, error) {
	r := NewReader(payload, VerbRENDEZVOUS)
	m := &Rendezvous{Flags: r.U8("flags"), With: r.Address("peer address")}
	port := r.U16("port")
	n := int(r.U8("address length"))
	if r.err == nil && n != 4 && n != 16 {
		r.Fail("address length %d (want 4 or 16)", n)
	}
	ip := r.Take(n, "address")
	if r.err != nil {
		return nil, r.err
	}
	addr, _ := netip.AddrFromSlice(ip)
	m.Endpoint = netip.AddrPortFrom(addr, port)
	return m, nil
}

func (m *Rendezvous) AppendPayload(b []byte) []byte {
	b = append(b, m.Flags)
	b = m.With.Append(b)
	b = binary.BigEndian.AppendUint16(b, m.Endpoint.Port())
	addr := m.Endpoint.Addr().Unmap()
	if addr.Is4() {
		a := addr.As4()
		return append(append(b, 4), a[:]...)
	}
	a := addr.As16()
	return append(append(b, 16), a[:]...)
}

// Path record flags of PUSH_DIRECT_PATHS.
const (
	PathFlagForget          = 0x01
	PathFlagClusterRedirect = 0x02
)

// PathRecord is one endpoint in PUSH_DIRECT_PATHS (vl1.md §7.7).
type PathRecord struct {
	Flags     uint8
	Extension []byte
	AddrType  uint8          // 4 or 6; other types are skipped by receivers
	Endpoint  netip.AddrPort // valid for types 4 and 6
	Raw       []byte         // address bytes as sent, for other types
}

// PushDirectPaths is PUSH_DIRECT_PATHS (0x10).
type PushDirectPaths struct{ Paths []PathRecord }

func (*PushDirectPaths) Verb() Verb { return VerbPUSH_DIRECT_PATHS }

// ParsePushDirectPaths decodes the path records.
func ParsePushDirectPaths(payload []byte) (*PushDirectPaths, error) {
	r := NewReader(payload, VerbPUSH_DIRECT_PATHS)
	n := int(r.U16("path count"))
	m := &PushDirectPaths{}
	for i := 0; i < n && r.err == nil; i++ {
		rec := PathRecord{Flags: r.U8("flags")}
		rec.Extension = r.Take(int(r.U16("extension length")), "extension")
		rec.AddrType = r.U8("address type")
		raw := r.Take(int(r.U8("address length")), "address")
		switch {
		case r.err != nil:
		case rec.AddrType == 4 && len(raw) == 6:
			rec.Endpoint = netip.AddrPortFrom(netip.AddrFrom4([4]byte(raw)), binary.BigEndian.Uint16(raw[4:]))
		case rec.AddrType == 6 && len(raw) == 18:
			rec.Endpoint = netip.AddrPortFrom(netip.AddrFrom16([16]byte(raw)), binary.BigEndian.Uint16(raw[16:]))
		default:
			rec.Raw = raw
		}
		m.Paths = append(m.Paths, rec)
	}
	if r.err != nil {
		return nil, r.err
	}
	return m, nil
}

func (m *PushDirectPaths) AppendPayload(b []byte) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(len(m.Paths)))
	for _, p := range m.Paths {
		b = append(b, p.Flags)
		b = binary.BigEndian.AppendUint16(b, uint16(len(p.Extension)))
		b = append(b, p.Extension...)
		b = append(b, p.AddrType)
		if p.Raw != nil || !p.Endpoint.IsValid() {
			b = append(b, byte(len(p.Raw)))
			b = append(b, p.Raw...)
			continue
		}
		addr := p.Endpoint.Addr()
		if p.AddrType == 4 {
			a := addr.Unmap().As4()
			b = append(append(b, 6), a[:]...)
		} else {
			a := addr.As16()
			b = append(append(b, 18), a[:]...)
		}
		b = binary.BigEndian.AppendUint16(b, p.Endpoint.Port())
	}
	return b
}

// UserMessage is USER_MESSAGE (0x14): an application message with a type ID.
type UserMessage struct {
	TypeID uint64
	Data   []byte
}

func (*UserMessage) Verb() Verb { return VerbUSER_MESSAGE }

// ParseUserMessage decodes a USER_MESSAGE; receivers ignore ones shorter
// than the type ID, so that is an error here.
func ParseUserMessage(payload []byte) (*UserMessage, error) {
	r := NewReader(payload, VerbUSER_MESSAGE)
	m := &UserMessage{TypeID: r.U64("type ID")}
	if r.err != nil {
		return nil, r.err
	}
	m.Data = r.Rest()
	return m, nil
}

func (m *UserMessage) AppendPayload(b []byte) []byte {
	return append(binary.BigEndian.AppendUint64(b, m.TypeID), m.Data...)
}

// RemoteTrace is REMOTE_TRACE (0x15): NUL-terminated serialized dictionaries.
type RemoteTrace struct{ Data []byte }

func (*RemoteTrace) Verb() Verb                      { return VerbREMOTE_TRACE }
func (m *RemoteTrace) AppendPayload(b []byte) []byte { return append(b, m.Data...) }

// Traces splits the payload into its non-empty dictionaries.
func (m *RemoteTrace) Traces() [][]byte {
	var out [][]byte
	for _, t := range bytes.Split(m.Data, []byte{0}) {
		if len(t) > 0 {
			out = append(out, t)
		}
	}
	return out
}

// VL2 is a VL2 verb as VL1 sees it: the network ID its payload starts with
// and the rest, which layer2-vl2 decodes. NETWORK_CREDENTIALS has no leading
// network ID (HasNetworkID is false and Body is the whole payload).
type VL2 struct {
	V            Verb
	HasNetworkID bool
	NetworkID    uint64
	Body         []byte
}

func (m *VL2) Verb() Verb { return m.V }

// ParseVL2 splits a VL2 payload (or the body of an OK answering a VL2 verb)
// into network ID and rest.
func ParseVL2(v Verb, payload []byte) (*VL2, error) {
	if v == VerbNETWORK_CREDENTIALS {
		return &VL2{V: v, Body: payload}, nil
	}
	r := NewReader(payload, v)
	m := &VL2{V: v, HasNetworkID: true, NetworkID: r.U64("network ID")}
	if r.err != nil {
		return nil, r.err
	}
	m.Body = r.Rest()
	return m, nil
}

func (m *VL2) AppendPayload(b []byte) []byte {
	if m.HasNetworkID {
		b = binary.BigEndian.AppendUint64(b, m.NetworkID)
	}
	return append(b, m.Body...)
}
